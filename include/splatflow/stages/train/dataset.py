"""The SfM stage's output as training data: posed photos at training resolution and 3D points.

Reads the ``sfm`` channel (``sparse/`` COLMAP model with PINHOLE cameras, ``images/`` undistorted
photos, ``report.json``) once, downscales photos to the training width, and splits every Nth photo
off for evaluation, so the held-out PSNR measures views the model never trained on. The report
says whether the model is geo-registered (then +z is up), which the stills and the viewer use.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pycolmap
from PIL import Image

from splatflow.contract.outputs import SFM_REPORT
from splatflow.formats.cameras import Camera, camera_from_matrices
from splatflow.stages.harness import FailureCode, StageError

log = logging.getLogger(__name__)

MIN_TRAINING_VIEWS = 2
MIN_POINTS = 10


@dataclass(frozen=True)
class View:
    camera: Camera
    """The view at training resolution."""
    photo: npt.NDArray[np.uint8]
    """(H, W, 3) 8-bit RGB at ``camera``'s resolution, in host memory (see ``views``)."""
    source: Path | None = None
    """The SfM output's photo file it was read from, which a held-out view keeps as it is."""


@dataclass(frozen=True)
class SceneData:
    training: list[View]
    holdout: list[View]
    points: npt.NDArray[np.float32]
    """(P, 3) sparse SfM points."""
    point_colors: npt.NDArray[np.float32]
    """(P, 3) their RGB in [0, 1]."""
    georegistered: bool = False
    """The SfM stage aligned the model to GPS in an east-north-up frame (so +z is up)."""

    @property
    def cameras(self) -> list[Camera]:
        return [view.camera for view in self.training + self.holdout]


def _pinhole_camera(image: pycolmap.Image, camera: pycolmap.Camera) -> Camera:
    if camera.model.name != "PINHOLE":
        raise StageError(
            FailureCode.BAD_SFM_OUTPUT,
            f"photo {image.name} uses a {camera.model.name} camera; training needs the undistorted "
            "PINHOLE model the SfM stage writes",
        )
    fx, fy, cx, cy = (float(v) for v in camera.params)
    world_to_camera = np.eye(4)
    world_to_camera[:3, :] = image.cam_from_world().matrix()
    intrinsics = [[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]]
    return camera_from_matrices(image.name, camera.width, camera.height, intrinsics, world_to_camera)


def load_view(images_dir: Path, camera: Camera, max_width: int) -> View:
    scale = min(1.0, max_width / camera.width)
    target = camera.scaled(scale) if scale < 1.0 else camera
    path = images_dir / camera.name
    try:
        with Image.open(path) as photo:
            rgb = photo.convert("RGB")
            if rgb.size != (target.width, target.height):
                rgb = rgb.resize((target.width, target.height), Image.Resampling.LANCZOS)
            pixels = np.array(rgb, dtype=np.uint8)
    except FileNotFoundError:
        raise StageError(
            FailureCode.BAD_SFM_OUTPUT, f"the SfM output names photo {camera.name} but images/ does not hold it"
        ) from None
    return View(camera=target, photo=pixels, source=path)


def georegistered(channel: Path) -> bool:
    """Whether the SfM report says the model was aligned to GPS; an SfM output without a
    readable report (made elsewhere) counts as not registered."""
    try:
        report = json.loads((channel / SFM_REPORT).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    registration = report.get("georegistration") if isinstance(report, dict) else None
    return isinstance(registration, dict) and registration.get("registered") is True


def load_scene(channel: Path, holdout_every: int, max_width: int) -> SceneData:
    """Read the ``sfm`` channel; an empty or unusable model fails the stage in plain words."""
    sparse = channel / "sparse"
    if not (sparse / "images.bin").exists() and not (sparse / "images.txt").exists():
        raise StageError(
            FailureCode.BAD_SFM_OUTPUT, f"no COLMAP model in the sfm input (expected {sparse.name}/images.bin)"
        )
    model = pycolmap.Reconstruction(str(sparse))
    cameras = sorted(
        (_pinhole_camera(image, model.cameras[image.camera_id]) for image in model.images.values()),
        key=lambda camera: camera.name,
    )
    if len(cameras) < MIN_TRAINING_VIEWS + 1:
        raise StageError(
            FailureCode.NO_OVERLAP, f"the SfM output has {len(cameras)} posed photos; at least 3 are needed"
        )
    if model.num_points3D() < MIN_POINTS:
        raise StageError(
            FailureCode.NO_OVERLAP, f"the SfM output has only {model.num_points3D()} 3D points; nothing to start from"
        )
    views = [load_view(channel / "images", camera, max_width) for camera in cameras]
    holdout = [v for i, v in enumerate(views) if i % holdout_every == holdout_every // 2]
    training = [v for i, v in enumerate(views) if i % holdout_every != holdout_every // 2]
    points = np.array([p.xyz for p in model.points3D.values()], dtype=np.float32)
    colors = np.array([p.color for p in model.points3D.values()], dtype=np.float32) / 255.0
    log.info(
        "scene: %d training views, %d held out, %dx%d px, %d SfM points",
        len(training),
        len(holdout),
        views[0].camera.width,
        views[0].camera.height,
        len(points),
    )
    return SceneData(
        training=training, holdout=holdout, points=points, point_colors=colors, georegistered=georegistered(channel)
    )
