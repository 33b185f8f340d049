"""Whether a model gets a streamed LOD bundle, and writing and checking it when it does.

A large model (its ``.sog`` past ``lod_min_sog_bytes``) also gets ``lod/``: the coarse levels
merged from it (``lod_levels``), chunked in space (``lod_bundle``), the background the stills
step found (sky, horizon: splats no photo sees near what it aims at) as the environment level,
which the engine draws at every distance. Each chunk is read back, and the render check runs on
what the viewer shows at full detail (level 0 and the environment), as it does for every
format the stage writes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from splatflow.contract.compress_settings import Settings
from splatflow.contract.outputs import LOD_FOLDER, LOD_META
from splatflow.formats.ply import Splats
from splatflow.formats.sog import WebpEffort, read_sog
from splatflow.stages.compress.encoder import EncoderOptions, reordered
from splatflow.stages.compress.lod_bundle import ENVIRONMENT, write_lod_bundle
from splatflow.stages.compress.lod_levels import detail_levels
from splatflow.stages.compress.stills import SiteViews
from splatflow.stages.harness import FailureCode, StageError
from splatflow.units import format_size

log = logging.getLogger(__name__)

QualityCheck = Callable[[Splats], tuple[dict[str, Any] | None, str | None]]
"""The stage's render check on decoded splats: (summary, why skipped)."""


def lod_skip_reason(sog_bytes: int, settings: Settings) -> str | None:
    """Why this model gets no bundle, or ``None`` when it gets one."""
    if settings.lod_min_sog_bytes <= 0:
        return "disabled by the lod_min_sog_bytes setting"
    if sog_bytes <= settings.lod_min_sog_bytes:
        return (
            f"the .sog ({format_size(sog_bytes)}) is within lod_min_sog_bytes "
            f"({format_size(settings.lod_min_sog_bytes)}): it loads as quickly as a streamed bundle"
        )
    return None


def split_background(splats: Splats, views: SiteViews | None) -> tuple[Splats, Splats | None]:
    """(subject, background); without cameras every splat is subject."""
    if views is None or views.subject is None or views.subject.all():
        return splats, None
    return reordered(splats, np.flatnonzero(views.subject)), reordered(splats, np.flatnonzero(~views.subject))


def full_detail(folder: Path) -> Splats:
    """What the viewer draws at full detail, decoded from the written files: level 0 and the environment."""
    meta = json.loads((folder / "lod-meta.json").read_text(encoding="utf-8"))
    names = [name for name in meta["filenames"] if name.startswith("0_")]
    if "environment" in meta:
        names.append(ENVIRONMENT)
    parts = [read_sog(folder / name) for name in names]
    first = parts[0]
    fields = ("means", "scales", "quats", "opacities", "sh_dc", "sh_rest")
    joined = {name: np.concatenate([getattr(part, name) for part in parts]) for name in fields}
    return Splats(**joined, antialiased=first.antialiased)


def write_lod_output(
    kept: Splats,
    views: SiteViews | None,
    output_dir: Path,
    settings: Settings,
    quality_check: QualityCheck,
) -> dict[str, Any]:
    """Write ``lod/`` for ``kept``, read it back and check it; the report's ``formats["lod"]``."""
    subject, background = split_background(kept, views)
    levels = detail_levels(subject, settings.lod_coarsest_splats, settings.lod_max_levels)
    options = EncoderOptions(kmeans_iterations=settings.kmeans_iterations, seed=settings.seed)
    written = write_lod_bundle(
        levels,
        background,
        output_dir / LOD_FOLDER,
        options,
        WebpEffort(method=settings.webp_method, quality=settings.webp_quality),
        workers=settings.encode_workers or 1,
        extras={**({} if views is None else views.viewer_extras()), "antialias": kept.antialiased},
    )
    decoded = full_detail(output_dir / LOD_FOLDER)
    if decoded.count != kept.count:
        raise StageError(
            FailureCode.INTERNAL,
            f"the streamed bundle decodes to {decoded.count} splats at full detail, not {kept.count}",
        )
    decoded.antialiased = kept.antialiased
    quality, skipped = quality_check(decoded)
    log.info(
        "wrote %s: %d levels %s, %d environment splats, %d chunk files, %s (%s before the first frame)",
        LOD_META,
        len(written.counts),
        written.counts,
        written.environment_splats,
        written.files,
        format_size(written.bytes),
        format_size(written.coarsest_bytes),
    )
    return {
        "file": LOD_META,
        "bytes": written.bytes,
        "first_frame_bytes": written.coarsest_bytes,
        "counts": written.counts,
        "environment_splats": written.environment_splats,
        "files": written.files,
        "quality": quality,
        "quality_skipped": skipped,
    }
