"""The pictures that travel with the compressed splat: the email's preview and orbit thumbnails,
and a held-out photo beside its render.

All are rendered from the *decoded* ``.sog``: what the user sees in the email is what they
download. The preview and the thumbnails frame the subject the photos look at, from where the
photos were taken (``render.capture_views``): a nadir survey from above at the flight's height, an
orbit from the orbit, a street from the street; the sky and horizon splats never decide the view.
The held-out comparison stays, for what the PSNR figure measures. The same preview view goes into
the bundle's ``meta.json`` (``extras``) as the viewer's
first view, so the viewer opens where the email's preview looks from.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from splatflow.contract.outputs import COMPARISON, ORBIT_STILLS, PREVIEW, orbit_still
from splatflow.formats.cameras import Camera, read_cameras, read_up
from splatflow.formats.ply import Splats
from splatflow.render import render_splats, to_8_bit
from splatflow.render.capture_views import (
    CaptureView,
    photos_around,
    preview_view,
    read_capture,
    subject_mask,
    typical_photo,
    view_from_photo,
)
from splatflow.render.overview import up_from_cameras
from splatflow.stages.compress.inputs import holdout_photo

log = logging.getLogger(__name__)

PREVIEW_SIZE = (640, 360)
"""The email shows the preview 600 px wide."""
ORBIT_SIZE = (240, 150)
"""The email shows each thumbnail at most 192 px wide."""
COMPARISON_WIDTH = 320
"""Width of each half of the held-out comparison (photo | render)."""


@dataclass(frozen=True)
class SiteViews:
    """Where the stills look from, in the splat's own frame."""

    up: npt.NDArray[np.float64]
    preview: CaptureView
    orbits: list[CaptureView]
    holdout: Camera | None
    """The first held-out camera, for the comparison; ``None`` when none travels with the model."""
    background_splats: int
    """Splats no photo sees near what it looks at (sky, horizon, distant hills): they stay in the
    model and the bundle, but never set the framing."""
    subject: npt.NDArray[np.bool_] | None = None
    """Per splat, whether it is part of the subject (not background)."""

    def viewer_extras(self) -> dict[str, Any]:
        """The viewer's first view (the preview's), for the bundle's ``meta.json`` ``extras``."""
        camera = self.preview.camera
        view = camera.view_matrix()
        position = -view[:3, :3].T @ view[:3, 3]
        return {
            "up": [float(v) for v in self.up],
            "view": {
                "position": [float(v) for v in position],
                "target": [float(v) for v in self.preview.target],
                "horizontal_fov_degrees": math.degrees(2 * math.atan(camera.width / 2 / camera.fx)),
                "vertical_fov_degrees": math.degrees(2 * math.atan(camera.height / 2 / camera.fy)),
            },
        }


def site_views(splats: Splats, cameras_file: Path | None) -> SiteViews | None:
    """The preview and orbit cameras of ``splats``, placed from its held-out photos' cameras;
    ``None`` for a model without cameras (a bare ``.ply``), whose photos are unknown. The up is
    the one the training stage wrote, else estimated
    from the held-out cameras (a model from before it wrote one)."""
    if cameras_file is None:
        return None
    cameras = read_cameras(cameras_file)
    up = read_up(cameras_file)
    if not cameras:
        return None
    if up is None:
        up = up_from_cameras(cameras, splats.means)
    try:
        capture = read_capture(cameras, splats.means)
    except ValueError as exc:
        log.warning("no stills: %s", exc)
        return None
    points = np.asarray(splats.means, dtype=np.float64)
    subject = subject_mask(capture, points)
    framed = points[subject]
    if len(framed) == 0:
        framed = capture.aim_points
    first = typical_photo(capture)
    preview = preview_view(capture, up, framed, PREVIEW_SIZE, name="overview")
    orbits = [
        view_from_photo(capture, photo, framed, ORBIT_SIZE, name=f"orbit {index}")
        for index, photo in enumerate(photos_around(capture, up, first, ORBIT_STILLS))
    ]
    return SiteViews(
        up=up,
        preview=preview,
        orbits=orbits,
        holdout=cameras[0] if cameras else None,
        background_splats=int((~subject).sum()),
        subject=subject,
    )


def _save(pixels: npt.NDArray[np.uint8], path: Path) -> None:
    Image.fromarray(pixels).save(path, optimize=True)


def _comparison(decoded: Splats, camera: Camera, photos: Path | None) -> npt.NDArray[np.uint8] | None:
    """The held-out photo beside the render from its camera, or ``None`` without the photo."""
    photo_path = holdout_photo(photos, camera.name)
    if photo_path is None:
        return None
    view = camera.scaled(COMPARISON_WIDTH / camera.width)
    with Image.open(photo_path) as image:
        photo = np.asarray(image.convert("RGB").resize((view.width, view.height), Image.Resampling.LANCZOS))
    return np.concatenate([photo, to_8_bit(render_splats(decoded, view))], axis=1)


def write_stills(decoded: Splats, views: SiteViews | None, photos: Path | None, output_dir: Path) -> bool:
    """``preview.png``, the orbit thumbnails and, with a held-out photo, ``comparison.png``;
    False when the model carries no cameras (then nothing is rendered)."""
    if views is None:
        log.info("no cameras travel with the model; no stills rendered")
        return False
    _save(to_8_bit(render_splats(decoded, views.preview.camera)), output_dir / PREVIEW)
    for index, orbit in enumerate(views.orbits, start=1):
        _save(to_8_bit(render_splats(decoded, orbit.camera)), output_dir / orbit_still(index))
    comparison = None if views.holdout is None else _comparison(decoded, views.holdout, photos)
    if comparison is not None:
        _save(comparison, output_dir / COMPARISON)
    log.info("preview and %d orbit stills rendered from the photos' side of the site", ORBIT_STILLS)
    return True
