"""Only well-placed photos go on to triangulation, undistortion and training.

A mapper can give a photo a pose that nothing in the model supports: on the seneca survey the
global mapper placed a photo of a featureless crop field 955 m from where it was taken, observing
no 3D point at all, while every other photo sat within 10 m of its GPS. Training would then fit
Gaussians to a view of nothing, and the report counted the photo as placed. Two checks remove
such photos from the model, each naming the photo and the reason:

- **too few observed points**: a pose held by fewer than ``min_photo_points`` 3D points (15:
  half of the 30 inlier correspondences COLMAP's incremental mapper needs to register a photo,
  ``abs_pose_min_num_inliers``, as the global mapper keeps fewer two-photo tracks; the weakest
  well-placed ``opensfm_lund`` photo holds 26 at 640 px) is not held at all;
- **a GPS outlier**: after the alignment, a photo further from its GPS position than the survey's
  own residuals allow (median plus ``gps_outlier_mads`` robust deviations, and never closer than
  ``gps_outlier_min_m``). The bar follows the survey, so GPS that is merely noisy, or offset as a
  whole (which the alignment absorbs), removes nothing.

The removed photos count against ``min_registered_fraction`` like any photo that was not placed.
"""

from __future__ import annotations

import logging

import numpy as np
import pycolmap

from splatflow.contract.sfm_settings import Settings
from splatflow.stages.sfm.georegister import GeoRegistration
from splatflow.stages.sfm.unpack import SkippedFile

log = logging.getLogger(__name__)

MAD_TO_SIGMA = 1.4826
"""The median absolute deviation times this estimates a normal spread's standard deviation."""


def poorly_observed(reconstruction: pycolmap.Reconstruction, settings: Settings) -> list[SkippedFile]:
    """Placed photos that observe fewer than ``min_photo_points`` of the model's points."""
    return [
        SkippedFile(
            image.name,
            f"removed from the model: its pose rests on {image.num_points3D} 3D point(s), "
            f"fewer than {settings.min_photo_points}",
        )
        for image in _placed(reconstruction)
        if image.num_points3D < settings.min_photo_points
    ]


def gps_outliers(georegistration: GeoRegistration, settings: Settings) -> list[SkippedFile]:
    """Photos placed further from their GPS position than the survey's own residuals allow."""
    if not georegistration.registered or not georegistration.residuals:
        return []
    names = list(georegistration.residuals)
    distances = np.array([georegistration.distance_m(name) for name in names])
    median = float(np.median(distances))
    spread = MAD_TO_SIGMA * float(np.median(np.abs(distances - median)))
    limit = max(settings.gps_outlier_min_m, median + settings.gps_outlier_mads * spread)
    measure = "3-D" if georegistration.altitude_used else "horizontal"
    return [
        SkippedFile(
            name,
            f"removed from the model: placed {distance:.1f} m ({measure}) from its GPS position, where the "
            f"survey's photos are a median {median:.1f} m from theirs (limit {limit:.1f} m)",
        )
        for name, distance in zip(names, distances, strict=True)
        if distance > limit
    ]


def remove_photos(reconstruction: pycolmap.Reconstruction, removed: list[SkippedFile]) -> None:
    """De-register the photos' frames, which also drops their observations (and points left with one)."""
    names = {item.name for item in removed}
    for image in _placed(reconstruction):
        if image.name in names:
            log.warning("removing %s: %s", image.name, next(item.reason for item in removed if item.name == image.name))
            reconstruction.deregister_frame(image.frame_id)


def _placed(reconstruction: pycolmap.Reconstruction) -> list[pycolmap.Image]:
    return [image for image in reconstruction.images.values() if image.has_pose]
