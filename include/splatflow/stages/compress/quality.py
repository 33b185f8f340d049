"""The stage's own quality check: render held-out views from the original and the bundle.

Quantisation errors per attribute say little about what a viewer sees (a position error
matters for a big opaque splat, not for a faint one), so the decision rests on pictures: the
held-out cameras that travel with the model are rendered from the original splats and from
the decoded bundle, and compared with each other and with the held-out photos.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image

from splatflow.formats.cameras import Camera
from splatflow.formats.ply import Splats
from splatflow.render import render_splats
from splatflow.stages.compress.inputs import holdout_photo

log = logging.getLogger(__name__)

Image32 = npt.NDArray[np.float32]

PSNR_CEILING_DB = 100.0
"""Identical images have infinite PSNR; reports cap it here so they stay valid JSON."""


def psnr(a: Image32, b: Image32) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    if mse <= 10 ** (-PSNR_CEILING_DB / 10):
        return PSNR_CEILING_DB
    return float(-10.0 * np.log10(mse))


@dataclass(frozen=True)
class ViewQuality:
    camera: str
    psnr_vs_original: float
    """Decoded bundle's render against the original's render."""
    original_psnr_vs_photo: float | None
    compressed_psnr_vs_photo: float | None


@dataclass(frozen=True)
class QualityCheck:
    views: list[ViewQuality]

    @property
    def mean_psnr_vs_original(self) -> float:
        return float(np.mean([v.psnr_vs_original for v in self.views]))

    @property
    def has_photos(self) -> bool:
        return all(v.original_psnr_vs_photo is not None for v in self.views)

    @property
    def psnr_loss_db(self) -> float | None:
        """Mean PSNR against the photos, original minus compressed; ``None`` without photos."""
        if not self.has_photos:
            return None
        original = [v.original_psnr_vs_photo for v in self.views if v.original_psnr_vs_photo is not None]
        compressed = [v.compressed_psnr_vs_photo for v in self.views if v.compressed_psnr_vs_photo is not None]
        return float(np.mean(original) - np.mean(compressed))


def _photo(folder: Path | None, camera: Camera) -> Image32 | None:
    if folder is None:
        return None
    path = holdout_photo(folder, camera.name)
    if path is None:
        log.warning("held-out photo %s is missing; comparing renders only", camera.name)
        return None
    with Image.open(path) as image:
        resized = image.convert("RGB").resize((camera.width, camera.height), Image.Resampling.LANCZOS)
    return np.asarray(resized, dtype=np.float32) / 255.0


def holdout_psnr(splats: Splats, cameras: list[Camera], photos: Path | None, image_scale: float) -> float | None:
    """Mean PSNR of ``splats`` rendered from the held-out ``cameras`` against their photos, at
    ``image_scale``; ``None`` when no camera has its photo."""
    scores = []
    for full_camera in cameras:
        camera = full_camera.scaled(image_scale)
        photo = _photo(photos, camera)
        if photo is not None:
            scores.append(psnr(render_splats(splats, camera), photo))
    return float(np.mean(scores)) if scores else None


def pick_views(cameras: list[Camera], limit: int) -> list[Camera]:
    """At most ``limit`` cameras, evenly spread over the list."""
    if len(cameras) <= limit:
        return cameras
    picks = np.linspace(0, len(cameras) - 1, limit).round().astype(int)
    return [cameras[i] for i in picks]


def check_quality(
    original: Splats,
    compressed: Splats,
    cameras: list[Camera],
    photos: Path | None,
    image_scale: float,
) -> QualityCheck:
    views = []
    for full_camera in cameras:
        camera = full_camera.scaled(image_scale)
        before = render_splats(original, camera)
        after = render_splats(compressed, camera)
        photo = _photo(photos, camera)
        view = ViewQuality(
            camera=camera.name,
            psnr_vs_original=psnr(after, before),
            original_psnr_vs_photo=None if photo is None else psnr(before, photo),
            compressed_psnr_vs_photo=None if photo is None else psnr(after, photo),
        )
        log.info("quality %s: %.2f dB vs original", camera.name, view.psnr_vs_original)
        views.append(view)
    return QualityCheck(views=views)
