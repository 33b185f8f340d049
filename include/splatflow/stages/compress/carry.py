"""What the compression output carries besides the bundle: the training figures and the stills.

The publish step reads only this folder, so the training ``metrics.json`` travels along, and the
stills (a preview from a held-out photo's viewpoint, and orbit thumbnails around the scene) are
rendered from the *decoded* ``.sog``: what the user sees in the email is what they download.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image

from splatflow.contract.outputs import MODEL_METRICS, ORBIT_STILLS, PREVIEW, TRAINING_METRICS, orbit_still
from splatflow.formats.cameras import Camera, camera_from_matrices, read_cameras
from splatflow.formats.ply import Splats
from splatflow.render import render_splats

log = logging.getLogger(__name__)

ORBIT_WIDTH = 200
PREVIEW_WIDTH = 640
"""The email shows the preview at this width, whatever resolution the model was trained at."""


def carry_training_metrics(model_dir: Path, output_dir: Path) -> bool:
    """Copy the training stage's ``metrics.json`` when the model has one (a bare .ply has not)."""
    source = model_dir / MODEL_METRICS
    if not source.is_file():
        return False
    shutil.copyfile(source, output_dir / TRAINING_METRICS)
    return True


def preview_camera(cameras_file: Path | None) -> Camera | None:
    """The first held-out view, at ``PREVIEW_WIDTH`` pixels wide."""
    if cameras_file is None:
        return None
    cameras = read_cameras(cameras_file)
    if not cameras:
        return None
    camera = cameras[0]
    return camera.scaled(PREVIEW_WIDTH / camera.width)


def _save_render(splats: Splats, camera: Camera, path: Path) -> None:
    image = render_splats(splats, camera)
    pixels = np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)
    Image.fromarray(pixels).save(path, optimize=True)


def _rotation(axis: npt.NDArray[np.float64], angle: float) -> npt.NDArray[np.float64]:
    """Rodrigues' rotation matrix about a unit ``axis``."""
    x, y, z = axis
    cross = np.array([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]])
    return np.eye(3) + np.sin(angle) * cross + (1.0 - np.cos(angle)) * cross @ cross


def scene_up(means: npt.ArrayLike, camera: Camera) -> npt.NDArray[np.float64]:
    """The ground's normal, pointing to the camera's side: the axis a drone survey varies least along.

    The camera's own up is no guide (a nadir photo's up lies in the ground plane), and a model
    without GPS has no known up, but a surveyed scene is far wider than it is tall.
    """
    points = np.asarray(means, dtype=np.float64)
    center = np.median(points, axis=0)
    spread = points - center
    _, axes = np.linalg.eigh(spread.T @ spread)
    normal = axes[:, 0]
    position = np.linalg.inv(camera.view_matrix())[:3, 3]
    return normal if normal @ (position - center) >= 0 else -normal


def orbit_cameras(camera: Camera, center: npt.ArrayLike, up: npt.ArrayLike, count: int = ORBIT_STILLS) -> list[Camera]:
    """``camera`` carried around ``center`` about ``up``, in equal steps after itself.

    The orbit keeps the photo's height and tilt, as a person orbiting in the viewer would.
    """
    pivot = np.asarray(center, dtype=np.float64)
    axis = np.asarray(up, dtype=np.float64)
    axis = axis / np.linalg.norm(axis)
    camera_to_world = np.linalg.inv(camera.view_matrix())
    cameras = []
    for index in range(1, count + 1):
        turn = np.eye(4)
        turn[:3, :3] = _rotation(axis, 2.0 * np.pi * index / (count + 1))
        turn[:3, 3] = pivot - turn[:3, :3] @ pivot
        world_to_camera = np.linalg.inv(turn @ camera_to_world)
        cameras.append(
            camera_from_matrices(
                f"{camera.name} orbit {index}", camera.width, camera.height, camera.intrinsics(), world_to_camera
            )
        )
    return cameras


def write_stills(decoded: Splats, camera: Camera | None, output_dir: Path) -> bool:
    """``preview.png`` from ``camera`` and small orbit thumbnails; False when there is no view."""
    if camera is None:
        log.info("no held-out camera travels with the model; no preview rendered")
        return False
    _save_render(decoded, camera, output_dir / PREVIEW)
    center = np.median(decoded.means, axis=0)
    up = scene_up(decoded.means, camera)
    thumbnail = camera.scaled(ORBIT_WIDTH / camera.width)
    for index, orbit in enumerate(orbit_cameras(thumbnail, center, up), start=1):
        _save_render(decoded, orbit, output_dir / orbit_still(index))
    log.info("preview and %d orbit stills rendered around %s", ORBIT_STILLS, camera.name)
    return True
