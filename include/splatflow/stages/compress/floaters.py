"""Floaters: the splats that belong to no surface the photos show, removed before encoding.

A trained scene keeps splats that no photo needs: splats hidden from every photo (under the
ground, inside walls, behind every camera) and faint haze in mid-air, in front of what the
photos see, that training dimmed but never removed. They cost as many bytes as any splat, and
the views a viewer opens between and beyond the photos show the haze the photos looked through.

The rule asks each photo (training and held-out: every one of them, from ``photo_cameras.json``)
what a splat adds to it, ``a_i T_i`` summed over its pixels (``render.contributions``), and
counts a photo's share only where the splat *is* the surface that photo shows: where its centre
lies no nearer than ``NEARER_THAN_SURFACE`` of the surface depth rendered at its pixel. A splat
well in front of that depth is something the photo looks through, not at. A splat whose counted
share over all photos is below ``floater_min_pixels`` (in pixels of the photos at training
resolution) is a floater.

What that keeps: every splat a photo shows as its surface, near or far. The sky and the horizon
are the surface of the pixels they fill (nothing lies behind them), so they stay, however far
out; so do thin things drawn opaque, a pole or a branch, which set their pixels' depth. What it
cannot tell: an *opaque* floater that training left in front of one photo sets that photo's depth
too, and only a comparison of colours across photos could say it is not there; it stays.
Measuring contributions rather than, say, counting the photos whose frustum holds a splat's
centre (which keeps all haze in view) or its opacity alone (which drops faint but needed
splats) judges each splat by what the photos actually draw with it; the held-out PSNR before and
after the removal, in the report, says what it cost.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from splatflow.formats.cameras import Camera
from splatflow.formats.ply import Splats
from splatflow.render.contributions import view_contributions
from splatflow.stages.compress.encoder import reordered
from splatflow.stages.compress.quality import holdout_psnr

log = logging.getLogger(__name__)

NEARER_THAN_SURFACE = 0.7
"""A splat whose centre is nearer than this share of the surface depth at its pixel is in front
of what the photo shows (30 % of the way from the surface to the camera): far enough that a
canopy or a roof over the ground, blended with it in a pixel, still counts as the surface."""


def _centre_pixels(splats: Splats, camera: Camera) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], Any]:
    """(row, column, depth) of each splat centre in ``camera``: the pixel its centre falls on, or
    for a centre just off the image (whose footprint still reaches in) the nearest pixel inside;
    row -1 for a centre behind the camera."""
    view = camera.view_matrix()
    local = splats.means.astype(np.float64) @ view[:3, :3].T + view[:3, 3]
    depth = local[:, 2]
    ahead = depth > 0
    safe = np.where(ahead, depth, 1.0)
    column = np.clip(np.floor(camera.fx * local[:, 0] / safe + camera.cx), 0, camera.width - 1)
    row = np.clip(np.floor(camera.fy * local[:, 1] / safe + camera.cy), 0, camera.height - 1)
    return np.where(ahead, row, -1).astype(np.intp), column.astype(np.intp), depth


def surface_shares(
    splats: Splats, cameras: list[Camera], image_scale: float, nearer_than_surface: float = NEARER_THAN_SURFACE
) -> npt.NDArray[np.float64]:
    """(N,) what each splat adds to the photos where it is their surface, in full-resolution
    pixels (``nearer_than_surface`` 0 counts what it adds anywhere)."""
    shares = np.zeros(splats.count)
    for full in cameras:
        camera = full.scaled(image_scale)
        view = view_contributions(splats, camera)
        row, column, depth = _centre_pixels(splats, camera)
        inside = row >= 0
        surface = view.surface_depth[np.maximum(row, 0), column]
        in_front = inside & np.isfinite(surface) & (depth < nearer_than_surface * surface)
        shares += np.where(in_front, 0.0, view.weights)
    # A splat's pixels at ``image_scale`` stand for 1 / scale**2 pixels of the photo.
    return shares / image_scale**2


def floater_mask(splats: Splats, cameras: list[Camera], min_pixels: float, image_scale: float) -> npt.NDArray[np.bool_]:
    """Which splats are floaters: their share of the photos' surfaces is below ``min_pixels``."""
    return surface_shares(splats, cameras, image_scale) < min_pixels


@dataclass(frozen=True)
class FloaterRemoval:
    removed: int
    photos: int
    seconds: float
    """Time spent finding them (the renders of every photo)."""
    held_out_psnr_before: float | None
    """Mean PSNR of the held-out views against their photos with every splat; ``None`` without photos."""
    held_out_psnr_after: float | None

    def summary(self) -> dict[str, Any]:
        def rounded(value: float | None) -> float | None:
            return None if value is None else round(value, 3)

        return {
            "removed": self.removed,
            "photos": self.photos,
            "seconds": round(self.seconds, 3),
            "held_out_psnr_before_db": rounded(self.held_out_psnr_before),
            "held_out_psnr_after_db": rounded(self.held_out_psnr_after),
        }


def remove_floaters(
    splats: Splats,
    photos: list[Camera],
    held_out: list[Camera],
    held_out_photos: Path | None,
    min_pixels: float,
    image_scale: float,
    check_scale: float,
) -> tuple[Splats, FloaterRemoval]:
    """(the splats without their floaters, what was removed and what it did to the held-out views).

    At least one splat always stays. The held-out views are rendered at ``check_scale`` before
    and after, against their photos, when both the views and the photos are there.
    """
    started = time.monotonic()
    floaters = floater_mask(splats, photos, min_pixels, image_scale)
    seconds = time.monotonic() - started
    if floaters.all():
        floaters[int(np.argmax(splats.opacities))] = False
    kept = reordered(splats, np.flatnonzero(~floaters)) if floaters.any() else splats
    before = holdout_psnr(splats, held_out, held_out_photos, check_scale)
    after = before if kept is splats else holdout_psnr(kept, held_out, held_out_photos, check_scale)
    removal = FloaterRemoval(
        removed=int(floaters.sum()),
        photos=len(photos),
        seconds=seconds,
        held_out_psnr_before=before,
        held_out_psnr_after=after,
    )
    log.info(
        "removed %d floaters of %d splats (seen from %d photos, %.1f s)",
        removal.removed,
        splats.count,
        removal.photos,
        removal.seconds,
    )
    return kept, removal
