"""The streamed LOD bundle, read back by the reference tool, ``@playcanvas/splat-transform`` 3.10.2.

The tool must find every level with the splat count we wrote, decode each level's chunks to
what our own decoder gives (the same bytes, so the same values), and those values must lie
within SOG's quantisation of the level we built; the environment (background) must read back
as its own SOG and survive the tool's rewrite of the bundle.
"""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
from sog_error_bounds import means_error_bound
from splat_transform_cli import REPO_ROOT, splat_transform_command
from synthetic_scene import synthetic_scene

from splatflow.formats.ply import Splats, read_ply
from splatflow.formats.sog import WebpEffort, read_sog
from splatflow.stages.compress.encoder import EncoderOptions, reordered
from splatflow.stages.compress.lod_bundle import LOD_META, ChunkSizes, write_lod_bundle
from splatflow.stages.compress.lod_levels import covariances, detail_levels

VERSION = "3.10.2"
NODE_PREFIX = REPO_ROOT / ".local" / f"node-splat-transform-{VERSION}"
ATTRIBUTES = ("means", "scales", "quats", "opacities", "sh_dc", "sh_rest")
SIZES = ChunkSizes(leaf_splats=1500, file_splats=1800)
"""Small chunks, so the 6,000-splat scene spans many leaves and several files per level."""


@pytest.fixture(scope="module")
def splat_transform() -> list[str]:
    return splat_transform_command(VERSION, NODE_PREFIX)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    scene = synthetic_scene(6400, sh_degree=1, seed=11)
    far = np.linalg.norm(scene.means[:, :2] - np.median(scene.means[:, :2], axis=0), axis=1)
    background = far > np.percentile(far, 95)
    subject = reordered(scene, np.flatnonzero(~background))
    environment = reordered(scene, np.flatnonzero(background))
    levels = detail_levels(subject, coarsest_splats=500, max_levels=4)
    folder = tmp_path_factory.mktemp("lod")
    written = write_lod_bundle(levels, environment, folder, EncoderOptions(), WebpEffort(), sizes=SIZES)
    return folder, levels, environment, written


def run(command: list[str], *arguments: object) -> str:
    result = subprocess.run([*command, *map(str, arguments)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def level_files(folder, level: int) -> list:
    meta = json.loads((folder / LOD_META).read_text())
    return [folder / name for name in meta["filenames"] if name.startswith(f"{level}_")]


def concatenated(parts: list[Splats]) -> dict[str, np.ndarray]:
    return {name: np.concatenate([getattr(part, name) for part in parts]) for name in ATTRIBUTES}


def test_the_layout_is_chunked_in_space_with_the_coarse_levels_in_few_files(bundle):
    folder, levels, environment, written = bundle
    meta = json.loads((folder / LOD_META).read_text())
    assert meta["lodLevels"] == len(levels) >= 3
    assert meta["counts"] == [level.count for level in levels] == written.counts
    assert meta["environment"] == "env/meta.json" and written.environment_splats == environment.count
    assert len(level_files(folder, 0)) >= 3 > len(level_files(folder, len(levels) - 1))
    leaves = []
    stack = [meta["tree"]]
    while stack:
        node = stack.pop()
        stack.extend(node.get("children", []))
        if "lods" in node:
            leaves.append(node)
    assert len(leaves) >= 4
    # Every level's splats of a leaf lie inside the leaf's bound.
    for level, _splats in enumerate(levels):
        decoded = concatenated([read_sog(path) for path in level_files(folder, level)])["means"]
        files = [name for name in meta["filenames"] if name.startswith(f"{level}_")]
        starts = np.cumsum([0] + [read_sog(folder / name).count for name in files])
        for leaf in leaves:
            entry = leaf["lods"][str(level)]
            base = starts[files.index(meta["filenames"][entry["file"]])] + entry["offset"]
            inside = decoded[base : base + entry["count"]]
            assert (inside >= np.array(leaf["bound"]["min"]) - 1e-3).all()
            assert (inside <= np.array(leaf["bound"]["max"]) + 1e-3).all()


@pytest.mark.slow
def test_splat_transform_reads_every_level_as_we_wrote_it(bundle, splat_transform, tmp_path):
    folder, levels, _, written = bundle
    info = json.loads(run(splat_transform, folder / LOD_META, "--info", "json", "null"))
    assert info["format"] == "lod" and info["lodCounts"] == [level.count for level in levels]
    for level, built in enumerate(levels):
        run(splat_transform, folder / LOD_META, "-L", level, tmp_path / f"level{level}.ply")
        theirs = read_ply(tmp_path / f"level{level}.ply")
        ours = concatenated([read_sog(path) for path in level_files(folder, level)])
        assert theirs.count == built.count
        for name in ATTRIBUTES:
            np.testing.assert_allclose(getattr(theirs, name), ours[name], rtol=0, atol=1e-6, err_msg=name)
        # And what they decode is the level we built, within SOG's quantisation (the chunks
        # hold the level's splats in the order the writer reports).
        meta = json.loads((folder / LOD_META).read_text())
        names = [name for name in meta["filenames"] if name.startswith(f"{level}_")]
        source = reordered(built, np.concatenate([written.chunk_rows[name] for name in names]))
        bound = np.concatenate(
            [
                means_error_bound(
                    source.means[start:end], np.array(chunk["means"]["mins"]), np.array(chunk["means"]["maxs"])
                )
                for chunk, start, end in chunk_spans(folder, names)
            ]
        )
        assert (np.abs(theirs.means - source.means) <= bound).all()
        source_cov, read_cov = covariances(source), covariances(theirs)
        relative = np.abs(source_cov - read_cov).max(axis=(1, 2)) / np.abs(source_cov).max(axis=(1, 2))
        assert np.median(relative) < 0.05
        np.testing.assert_allclose(sigmoid(theirs.opacities), sigmoid(source.opacities), atol=0.5 / 255 + 1e-6)
        np.testing.assert_allclose(theirs.sh_dc, source.sh_dc, atol=0.05)


def sigmoid(values: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-values.astype(np.float64)))


def chunk_spans(folder, names: list[str]):
    """Each chunk's meta.json with the span of the level's rows it holds."""
    start = 0
    for name in names:
        chunk = json.loads((folder / name).read_text())
        yield chunk, start, start + chunk["count"]
        start += chunk["count"]


@pytest.mark.slow
def test_the_environment_reads_back_and_survives_the_tools_own_rewrite(bundle, splat_transform, tmp_path):
    folder, levels, environment, _ = bundle
    run(splat_transform, folder / "env" / "meta.json", tmp_path / "env.ply")
    assert read_ply(tmp_path / "env.ply").count == environment.count
    # splat-transform's LOD writer takes the bundle (levels and environment) and writes its own.
    run(splat_transform, "-i", 1, folder / LOD_META, tmp_path / "rewritten" / LOD_META)
    rewritten = json.loads((tmp_path / "rewritten" / LOD_META).read_text())
    assert rewritten["counts"] == [level.count for level in levels]
    assert rewritten["environment"] == "env/meta.json"
    run(splat_transform, tmp_path / "rewritten" / "env" / "meta.json", tmp_path / "env2.ply")
    assert read_ply(tmp_path / "env2.ply").count == environment.count
