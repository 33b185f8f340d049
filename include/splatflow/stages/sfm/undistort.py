"""Undistorted PINHOLE images and model, the form 3DGS training expects."""

from __future__ import annotations

import shutil
from pathlib import Path

import pycolmap

from splatflow.contract.sfm_settings import Settings
from splatflow.stages.sfm.colmap_options import thread_count
from splatflow.stages.sfm.heartbeat import heartbeat

OUTPUT_FOLDERS = ("images", "sparse")


def undistort(
    reconstruction: pycolmap.Reconstruction,
    images: Path,
    work: Path,
    destination: Path,
    settings: Settings,
    stage: str,
) -> None:
    """Write ``destination/images`` and ``destination/sparse`` (cameras/images/points3D.bin)."""
    model = work / "model"
    model.mkdir(parents=True, exist_ok=True)
    reconstruction.write(model)
    undistorted = work / "undistorted"
    options = pycolmap.UndistortCameraOptions()
    options.max_image_size = settings.image_max_size
    with heartbeat(stage, "undistorting images"):
        pycolmap.undistort_images(
            undistorted,
            model,
            images,
            output_type="COLMAP",
            undistort_options=options,
            jpeg_quality=settings.jpeg_quality,
            num_threads=thread_count(settings),
        )
    # The COLMAP layout also holds dense-stereo scripts and folders that training has no use for.
    for folder in OUTPUT_FOLDERS:
        shutil.move(undistorted / folder, destination / folder)
