"""A run's compression output in a bucket, with a small streamed LOD bundle and a tileset, for the
tests of the signed copies the emailed links open (``splatflow.pipeline.signed_index``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synthetic_scene import synthetic_scene

from splatflow.contract.outputs import LOD_META, TILE_CONTENT, TILESET
from splatflow.formats.sog import WebpEffort, write_sog
from splatflow.local.sagemaker.s3io import upload_directory
from splatflow.pipeline.tileset import GeoOrigin, build_tileset
from splatflow.stages.compress.encoder import EncoderOptions, encode_splats
from splatflow.stages.compress.lod_bundle import ChunkSizes, write_lod_bundle
from splatflow.stages.compress.lod_levels import detail_levels
from splatflow.stages.compress.stage import write_tile_content

ORIGIN = GeoOrigin(50.8198, -0.1366, 48.0)
ENVIRONMENT_SPLATS = 300
"""The bundle's environment (``env/meta.json``), drawn beside whichever level the camera calls for."""


@dataclass(frozen=True)
class RunOutput:
    bucket: str
    folder: str
    """The compression output's key prefix, ``runs/<run key>/compress``."""
    local: Path
    """The same files on disk."""

    def uri(self, name: str) -> str:
        return f"s3://{self.bucket}/{self.folder}/{name}"

    @property
    def lod_meta(self) -> dict[str, Any]:
        meta: dict[str, Any] = json.loads((self.local / LOD_META).read_text())
        return meta


def write_run_output(folder: Path, splats: int = 6000) -> Path:
    """``scene.sog``, a bundle of 3 levels in several chunk files with an environment, and the
    tileset with its tile content, as the compression stage and the publish step leave them."""
    scene = synthetic_scene(splats, sh_degree=0, seed=21)
    write_sog(encode_splats(scene).encoded, folder / "scene.sog")
    levels = detail_levels(scene, coarsest_splats=splats // 20, max_levels=3)
    environment = synthetic_scene(ENVIRONMENT_SPLATS, sh_degree=0, seed=22)
    write_lod_bundle(levels, environment, folder / "lod", EncoderOptions(), WebpEffort(), sizes=ChunkSizes(1500, 2000))
    tile = write_tile_content(scene, folder / TILE_CONTENT)
    (folder / TILESET).write_text(json.dumps(build_tileset(ORIGIN, TILE_CONTENT, tile["centre"], tile["radius_m"])))
    return folder


def upload_run_output(s3: Any, bucket: str, run_key: str, local: Path) -> RunOutput:
    output = RunOutput(bucket, f"runs/{run_key}/compress", local)
    upload_directory(s3, local, f"s3://{bucket}/{output.folder}", {})
    return output
