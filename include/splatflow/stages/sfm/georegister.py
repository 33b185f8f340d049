"""Align the model to a local east-north-up frame in metres, from the photos' GPS.

SfM alone recovers a model in an arbitrary frame and scale, so a splat trained on it comes out
tilted and unitless. Where the photos carry GPS, a robust similarity transform maps the camera
centres onto their GPS positions in an ENU frame (x east, y north, z up) centred on the survey;
the origin's latitude, longitude and altitude go into the report so the splat can be placed on
a map. Cameras strung along one straight line do not fix the roll about that line, so such a
survey is left unregistered rather than registered wrongly.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pycolmap

from splatflow.contract.sfm_settings import Settings
from splatflow.stages.sfm.photos import GpsPosition

log = logging.getLogger(__name__)

MIN_GPS_PHOTOS = 3
MIN_SPREAD_RATIO = 0.05
"""Camera positions whose second principal spread is below this share of the first are a line."""


@dataclass(frozen=True)
class GeoRegistration:
    """The outcome, as the report shows it: either an origin and fit, or why not."""

    registered: bool
    reason: str
    origin: GpsPosition | None = None
    gps_photos: int = 0
    inliers: int = 0
    rmse_m: float | None = None


def georegister(
    reconstruction: pycolmap.Reconstruction, positions: dict[str, GpsPosition], settings: Settings
) -> GeoRegistration:
    """Transform ``reconstruction`` in place into ENU metres when its GPS allows it."""
    if not settings.georegister:
        return GeoRegistration(False, "disabled by the georegister setting")
    images = [image for image in reconstruction.images.values() if image.name in positions]
    if len(images) < MIN_GPS_PHOTOS:
        return GeoRegistration(False, f"{len(images)} registered photos carry GPS (need {MIN_GPS_PHOTOS})")
    gps = [positions[image.name] for image in images]
    origin = GpsPosition(
        latitude=float(np.mean([p.latitude for p in gps])),
        longitude=float(np.mean([p.longitude for p in gps])),
        altitude=float(np.mean([p.altitude for p in gps])),
    )
    lat_lon_alt = np.array([[p.latitude, p.longitude, p.altitude] for p in gps])
    enu = pycolmap.GPSTransform().ellipsoid_to_enu(lat_lon_alt, origin.latitude, origin.longitude, origin.altitude)
    if _is_a_line(enu):
        return GeoRegistration(False, "the GPS positions lie on one line", gps_photos=len(images))
    ransac = pycolmap.RANSACOptions()
    ransac.max_error = settings.gps_max_error_m
    ransac.random_seed = settings.random_seed
    names = [image.name for image in images]
    enu_from_model = pycolmap.align_reconstruction_to_locations(reconstruction, names, enu, MIN_GPS_PHOTOS, ransac)
    if enu_from_model is None:
        return GeoRegistration(False, "the GPS positions do not fit the model", gps_photos=len(images))
    reconstruction.transform(enu_from_model)
    centres = np.array([reconstruction.images[image.image_id].projection_center() for image in images])
    errors = np.linalg.norm(centres.reshape(-1, 3) - enu, axis=1)
    result = GeoRegistration(
        registered=True,
        reason="aligned to GPS",
        origin=origin,
        gps_photos=len(images),
        inliers=int((errors <= settings.gps_max_error_m).sum()),
        rmse_m=float(np.sqrt(np.mean(errors**2))),
    )
    log.info("geo-registered to ENU: %d GPS photos, RMSE %.2f m", len(images), result.rmse_m)
    return result


def _is_a_line(points: np.ndarray) -> bool:
    spread = np.linalg.svd(points - points.mean(axis=0), compute_uv=False)
    return bool(spread[0] == 0 or spread[1] / spread[0] < MIN_SPREAD_RATIO)
