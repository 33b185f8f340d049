"""What the compression output carries besides the bundle: the training figures and a preview.

The publish step reads only this folder, so the training ``metrics.json`` travels along, and the
preview is rendered from the *decoded* ``.sog``: what the user sees in the email is what they
download, not the uncompressed model.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from splatflow.formats.cameras import Camera, read_cameras
from splatflow.formats.ply import Splats
from splatflow.render import render_splats

log = logging.getLogger(__name__)

METRICS_NAME = "metrics.json"
PREVIEW_NAME = "preview.png"
PREVIEW_WIDTH = 640
"""The email shows the preview at this width, whatever resolution the model was trained at."""
"""The email shows the preview at this width, whatever resolution the model was trained at."""


def carry_training_metrics(model_dir: Path, output_dir: Path) -> bool:
    """Copy the training stage's ``metrics.json`` when the model has one (a bare .ply has not)."""
    source = model_dir / METRICS_NAME
    if not source.is_file():
        return False
    shutil.copyfile(source, output_dir / METRICS_NAME)
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


def write_preview(decoded: Splats, camera: Camera | None, output_dir: Path) -> bool:
    """Render the decoded splat from ``camera`` to ``preview.png``; False when there is no view."""
    if camera is None:
        log.info("no held-out camera travels with the model; no preview rendered")
        return False
    image = render_splats(decoded, camera)
    pixels = np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)
    Image.fromarray(pixels).save(output_dir / PREVIEW_NAME, optimize=True)
    log.info("preview rendered from %s at %dx%d", camera.name, camera.width, camera.height)
    return True
