"""The compression stage, step by step: find the model, clean it, encode, verify, check, publish.

Every bundle written is read back with our own decoder before it is published, so a writer
bug can never ship a file that opens wrong; the render check then decides whether the loss is
acceptable. All outputs go through ``staged_output``: a failed check publishes nothing.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from splatflow.contract.compress_settings import Settings
from splatflow.contract.outputs import COMPRESSED_FROM_PLY, COMPRESSION_REPORT, GLB, SOG, SPZ, TILE_CONTENT
from splatflow.formats.cameras import CamerasFormatError, read_cameras
from splatflow.formats.glb import encode_spz_glb, read_glb, write_glb
from splatflow.formats.ply import PlyFormatError, Splats, read_ply
from splatflow.formats.sog import WebpEffort, read_sog, write_sog
from splatflow.formats.spz import read_spz, write_spz
from splatflow.render.threads import use_cpu_threads
from splatflow.stages.compress.carry import carry_training_metrics
from splatflow.stages.compress.encoder import EncoderOptions, encode_splats, reordered
from splatflow.stages.compress.floaters import remove_floaters
from splatflow.stages.compress.inputs import ModelInput, locate_model
from splatflow.stages.compress.lod_output import lod_skip_reason, write_lod_output
from splatflow.stages.compress.pruning import prune_least_significant
from splatflow.stages.compress.quality import QualityCheck, check_quality, pick_views
from splatflow.stages.compress.report import CompressionReport, attribute_rmse, quality_summary
from splatflow.stages.compress.stills import SiteViews, site_views, write_stills
from splatflow.stages.harness import FailureCode, MlPaths, StageError, read_arguments, staged_output

STAGE_NAME = "compress"

log = logging.getLogger(__name__)


def drop_non_finite(splats: Splats) -> tuple[Splats, int]:
    """The splats whose every value is finite, and how many were dropped."""
    columns = [splats.means, splats.scales, splats.quats, splats.sh_dc, splats.sh_rest.reshape(splats.count, -1)]
    finite = np.isfinite(splats.opacities)
    for column in columns:
        finite &= np.isfinite(column).all(axis=1)
    finite &= np.linalg.norm(np.where(np.isfinite(splats.quats), splats.quats, 0), axis=1) > 0
    kept = np.flatnonzero(finite)
    return reordered(splats, kept), int(splats.count - len(kept))


def load_splats(model: ModelInput) -> tuple[Splats, int, int]:
    """(clean splats, input count, dropped count); an unusable model fails the stage."""
    try:
        splats = read_ply(model.ply)
    except PlyFormatError as exc:
        raise StageError(FailureCode.BAD_MODEL, str(exc)) from None
    if splats.count == 0:
        raise StageError(FailureCode.BAD_MODEL, f"{model.ply.name} holds no splats")
    clean, dropped = drop_non_finite(splats)
    if clean.count == 0:
        raise StageError(
            FailureCode.DIVERGED, f"all {splats.count} splats of {model.ply.name} hold NaN or infinite values"
        )
    if dropped:
        log.warning("dropped %d of %d splats holding NaN or infinite values", dropped, splats.count)
    return clean, splats.count, dropped


def _remedy(settings: Settings) -> str:
    if settings.prune_fraction > 0:
        return f"try a prune_fraction below {settings.prune_fraction:g} or a larger sh_palette_size"
    return "try a larger sh_palette_size"


def run_quality_check(
    model: ModelInput, original: Splats, decoded: Splats, settings: Settings
) -> tuple[QualityCheck | None, str | None]:
    """The render check, or why it was skipped; a loss past the settings fails the stage."""
    if not settings.quality_check:
        return None, "disabled by the quality_check setting"
    if model.cameras is None:
        return None, "the model carries no held-out cameras (cameras.json)"
    try:
        cameras = read_cameras(model.cameras)
    except CamerasFormatError as exc:
        raise StageError(FailureCode.BAD_MODEL, f"the model's held-out cameras are unreadable: {exc}") from None
    if not cameras:
        return None, "cameras.json lists no held-out cameras"
    views = pick_views(cameras, settings.quality_max_views)
    check = check_quality(original, decoded, views, model.holdout_photos, settings.quality_image_scale)
    loss = check.psnr_loss_db
    if loss is not None and loss > settings.max_psnr_loss_db:
        raise StageError(
            FailureCode.QUALITY_CHECK,
            f"compression lost {loss:.2f} dB of PSNR on the held-out photos "
            f"(limit {settings.max_psnr_loss_db:g} dB); {_remedy(settings)}",
        )
    if loss is None and check.mean_psnr_vs_original < settings.min_psnr_vs_original_db:
        raise StageError(
            FailureCode.QUALITY_CHECK,
            f"the compressed scene renders at {check.mean_psnr_vs_original:.1f} dB PSNR against the "
            f"original (limit {settings.min_psnr_vs_original_db:g} dB); {_remedy(settings)}",
        )
    return check, None


def pruned(splats: Splats, fraction: float) -> tuple[Splats, int]:
    """``prune_least_significant``, with a bad fraction failing the stage with its reason."""
    try:
        kept, count = prune_least_significant(splats, fraction)
    except ValueError as exc:
        raise StageError(FailureCode.INVALID_SETTINGS, str(exc)) from None
    if count:
        log.info("pruned the %d least significant of %d splats (prune_fraction %g)", count, splats.count, fraction)
    return kept, count


def without_floaters(
    splats: Splats, model: ModelInput, settings: Settings
) -> tuple[Splats, dict[str, Any] | None, str | None]:
    """``remove_floaters`` over the model's photos: (the kept splats, the removal's summary, why
    the step did not run, when it did not)."""
    if not settings.remove_floaters:
        return splats, None, "disabled by the remove_floaters setting"
    if settings.floater_min_pixels < 0 or not 0 < settings.floater_image_scale <= 1:
        raise StageError(
            FailureCode.INVALID_SETTINGS,
            f"floater_min_pixels must be at least 0 (not {settings.floater_min_pixels:g}) and "
            f"floater_image_scale above 0 and at most 1 (not {settings.floater_image_scale:g})",
        )
    if model.photo_cameras is None:
        return splats, None, "the model carries no photo_cameras.json (trained before photo views were written)"
    try:
        photos = read_cameras(model.photo_cameras)
        held_out = [] if model.cameras is None else read_cameras(model.cameras)
    except CamerasFormatError as exc:
        raise StageError(FailureCode.BAD_MODEL, f"the model's photo views are unreadable: {exc}") from None
    if not photos:
        return splats, None, "photo_cameras.json lists no photos"
    kept, removal = remove_floaters(
        splats,
        photos,
        pick_views(held_out, settings.quality_max_views),
        model.holdout_photos,
        settings.floater_min_pixels,
        settings.floater_image_scale,
        settings.quality_image_scale,
    )
    return kept, removal.summary(), None


def views_of(splats: Splats, model: ModelInput) -> SiteViews | None:
    """``site_views``, with unreadable cameras failing the stage as a bad model."""
    try:
        return site_views(splats, model.cameras)
    except CamerasFormatError as exc:
        raise StageError(FailureCode.BAD_MODEL, f"the model's held-out cameras are unreadable: {exc}") from None


def check_read_back(what: str, decoded: Splats, kept: Splats) -> None:
    """A written file must decode to the splats it was made from: a writer bug fails the stage."""
    if decoded.count != kept.count or decoded.sh_degree != kept.sh_degree:
        raise StageError(
            FailureCode.INTERNAL,
            f"the written {what} decodes to {decoded.count} splats of SH degree {decoded.sh_degree}, "
            f"not {kept.count} of degree {kept.sh_degree}",
        )


def write_other_formats(
    model: ModelInput, original: Splats, kept: Splats, output_dir: Path, settings: Settings
) -> dict[str, dict[str, Any]]:
    """The ``.spz`` and the ``.glb`` of the kept splats, each read back and judged like the ``.sog``.

    Each file is decoded with our reader, its count checked, and the render check run on what
    the user downloads; a format that loses more than the settings allow fails the stage.
    """
    written: dict[str, dict[str, Any]] = {}
    for name, file_name, write, read in (("spz", SPZ, write_spz, read_spz), ("glb", GLB, write_glb, read_glb)):
        path = output_dir / file_name
        size = write(kept, path)
        decoded = read(path)
        check_read_back(file_name, decoded, kept)
        # Neither format records gsplat's antialiased opacity; it is drawn as the model was trained.
        decoded.antialiased = kept.antialiased
        check, skipped = run_quality_check(model, original, decoded, settings)
        written[name] = {
            "file": file_name,
            "bytes": size,
            "quality": None if check is None else quality_summary(check),
            "quality_skipped": skipped,
        }
        log.info("wrote %s: %d bytes", file_name, size)
    written["tile"] = write_tile_content(kept, output_dir / TILE_CONTENT)
    return written


def write_tile_content(splats: Splats, path: Path) -> dict[str, Any]:
    """The 3D Tiles content (the ``.spz`` inside a ``.glb``) and the sphere that bounds the splats.

    The sphere, in the splat's own frame, reaches three standard deviations past the farthest
    centre, so the tileset's bounding volume holds every splat's visible extent.
    """
    data = encode_spz_glb(splats)
    path.write_bytes(data)
    low, high = splats.means.min(axis=0).astype(np.float64), splats.means.max(axis=0).astype(np.float64)
    centre = (low + high) / 2
    reach = np.linalg.norm(splats.means - centre, axis=1) + 3 * np.exp(splats.scales.max(axis=1))
    return {
        "file": TILE_CONTENT,
        "bytes": len(data),
        "centre": [round(float(v), 4) for v in centre],
        "radius_m": round(float(reach.max()), 4),
    }


def compress(model: ModelInput, output_dir: Path, settings: Settings) -> CompressionReport:
    splats, input_count, dropped = load_splats(model)
    seen, floaters, floaters_skipped = without_floaters(splats, model, settings)
    kept, pruned_count = pruned(seen, settings.prune_fraction)
    views = views_of(kept, model)
    log.info("compressing %d splats, SH degree %d", kept.count, kept.sh_degree)
    options = EncoderOptions(
        texel_order=settings.texel_order,
        sh_palette_size=settings.sh_palette_size,
        kmeans_iterations=settings.kmeans_iterations,
        seed=settings.seed,
    )
    started = time.monotonic()
    encoding = encode_splats(kept, options)
    sog_path = output_dir / SOG
    entry_bytes = write_sog(
        encoding.encoded,
        sog_path,
        WebpEffort(method=settings.webp_method, quality=settings.webp_quality),
        workers=settings.encode_workers or os.cpu_count() or 1,
        extras=None if views is None else views.viewer_extras(),
    )
    encode_seconds = time.monotonic() - started
    decoded = read_sog(sog_path)
    check_read_back("bundle", decoded, kept)
    # The check draws the whole model, pruned splats included: it judges everything we dropped.
    check, skipped = run_quality_check(model, splats, decoded, settings)
    other_formats = write_other_formats(model, splats, kept, output_dir, settings)
    lod_skipped = lod_skip_reason(sog_path.stat().st_size, settings)
    if lod_skipped is None:

        def judged(decoded: Splats) -> tuple[dict[str, Any] | None, str | None]:
            check, why = run_quality_check(model, splats, decoded, settings)
            return (None if check is None else quality_summary(check)), why

        other_formats["lod"] = write_lod_output(kept, views, output_dir, settings, judged)
    if settings.copy_ply:
        shutil.copyfile(model.ply, output_dir / COMPRESSED_FROM_PLY)
    carry_training_metrics(model.ply.parent, output_dir)
    write_stills(decoded, views, model.holdout_photos, output_dir)
    palette = encoding.encoded.sh_palette
    report = CompressionReport(
        input_splats=input_count,
        dropped_non_finite=dropped,
        pruned=pruned_count,
        floaters=floaters,
        floaters_skipped=floaters_skipped,
        splats=kept.count,
        sh_degree=kept.sh_degree,
        ply_bytes=model.ply.stat().st_size,
        sog_bytes=sog_path.stat().st_size,
        sog_entry_bytes=entry_bytes,
        sh_palette_size=0 if palette is None else palette.size,
        texel_order=settings.texel_order,
        encode_seconds=round(encode_seconds, 3),
        attribute_rmse=attribute_rmse(encoding.splats, decoded),
        quality=None if check is None else quality_summary(check),
        quality_skipped=skipped,
        background_splats=None if views is None else views.background_splats,
        formats=other_formats,
        lod_skipped=lod_skipped,
        settings=dataclasses.asdict(settings),
    )
    report.write(output_dir / COMPRESSION_REPORT)
    log.info("wrote %s: %d bytes, %.1fx smaller than the .ply", SOG, report.sog_bytes, report.ratio)
    return report


def main(paths: MlPaths) -> None:
    settings = read_arguments(Settings, sys.argv[1:])
    # The k-means and the quality renders run on PyTorch's CPU kernels (see render.threads).
    use_cpu_threads(settings.cpu_threads)
    with tempfile.TemporaryDirectory(prefix="compress-") as workspace:
        model = locate_model(paths.processing_input, Path(workspace))
        with staged_output(paths.processing_output) as output_dir:
            compress(model, output_dir, settings)
