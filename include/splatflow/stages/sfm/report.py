"""``report.json``: what went in, what came out, how good it is and how long each step took.

The report is the user's answer to "why does my splat look like that?": how many photos were
received, decoded and placed in the model, which were skipped and why, the fitted lenses, and
the model's quality numbers (points, mean reprojection error, mean track length).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pycolmap

from splatflow.contract.outputs import SFM_REPORT
from splatflow.contract.sfm_settings import Settings
from splatflow.stages.sfm.features import ExtractionPlan
from splatflow.stages.sfm.georegister import GeoRegistration
from splatflow.stages.sfm.mapping import MappingResult
from splatflow.stages.sfm.matching import MatchingResult
from splatflow.stages.sfm.photos import Photo
from splatflow.stages.sfm.unpack import SkippedFile


class StepTimings:
    """Wall time per named step, in the order the steps ran."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.seconds[name] = round(time.monotonic() - started, 3)


def unregistered_photos(
    photos: list[Photo], reconstruction: pycolmap.Reconstruction, removed: set[str]
) -> list[SkippedFile]:
    """Photos the mapper did not place (those placed and then removed are reported with their reason)."""
    placed = {image.name for image in reconstruction.images.values() if image.has_pose}
    return [
        SkippedFile(photo.name, "could not be placed in the 3D model")
        for photo in photos
        if photo.name not in placed and photo.name not in removed
    ]


def build_report(
    *,
    received: int,
    photos: list[Photo],
    skipped: list[SkippedFile],
    removed: int,
    camera_keys: dict[int, str],
    extraction: ExtractionPlan,
    mapping: MappingResult,
    matching: MatchingResult,
    georegistration: GeoRegistration,
    timings: StepTimings,
    settings: Settings,
) -> dict[str, Any]:
    reconstruction = mapping.reconstruction
    return {
        "photos": {
            "received": received,
            "decoded": len(photos),
            "registered": reconstruction.num_reg_images(),
            "removed": removed,
        },
        "skipped": [asdict(item) for item in skipped],
        "cameras": _cameras(reconstruction, camera_keys),
        "output_camera_model": "PINHOLE",
        "points": reconstruction.num_points3D(),
        "mean_reprojection_error_px": reconstruction.compute_mean_reprojection_error(),
        "mean_track_length": reconstruction.compute_mean_track_length(),
        "extraction": asdict(extraction),
        "matching": asdict(matching),
        "mapping": {
            "mapper": mapping.mapper,
            "seed": mapping.seed,
            "models": mapping.models,
            "fallback_reason": mapping.fallback_reason,
            "mapper_points": mapping.mapper_points,
        },
        "georegistration": georegistration.summary(settings.gps_max_error_m),
        "timings_s": dict(timings.seconds),
        "settings": asdict(settings),
    }


def _cameras(reconstruction: pycolmap.Reconstruction, camera_keys: dict[int, str]) -> list[dict[str, Any]]:
    photo_counts: dict[int, int] = {}
    for image in reconstruction.images.values():
        if image.has_pose:
            photo_counts[image.camera_id] = photo_counts.get(image.camera_id, 0) + 1
    return [
        {
            "camera_id": camera_id,
            "camera": camera_keys.get(camera_id, ""),
            "model": camera.model.name,
            "width": camera.width,
            "height": camera.height,
            "params": dict(zip(camera.params_info.split(", "), map(float, camera.params), strict=True)),
            "focal_prior_from_exif": camera.has_prior_focal_length,
            "registered_photos": photo_counts.get(camera_id, 0),
        }
        for camera_id, camera in sorted(reconstruction.cameras.items())
    ]


def write_report(report: dict[str, Any], folder: Path) -> Path:
    path = folder / SFM_REPORT
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return path
