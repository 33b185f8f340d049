"""Align the model to a local east-north-up frame in metres, from the photos' GPS.

SfM alone recovers a model in an arbitrary frame and scale, so a splat trained on it comes out
tilted and unitless. Where the photos carry GPS, the camera centres are mapped onto their GPS
positions in an ENU frame (x east, y north, z up) centred on the survey; the origin's latitude,
longitude and altitude go into the report so the splat can be placed on a map.

GPS is trusted where it is consistent. Horizontal positions come first: they are what a drone's
receiver gets right. Altitude drifts by tens of metres over a flight, and a similarity fitted to
it turns the model to follow the drift, so it is used only when it agrees with the up the model
itself shows (``upright``: the cameras' mean gaze on a nadir survey, else the ground plane):

1. a robust similarity to the full GPS positions (pycolmap's ``align_reconstruction_to_locations``,
   LO-RANSAC), and the tilt it would give the model against the model's own up;
2. within ``max_gps_tilt_deg``, that similarity is kept (the altitudes agree with the model);
3. otherwise the model is stood on its own up, turned, scaled and shifted to the horizontal GPS
   positions (``horizontal_fit``), and raised to the GPS altitude its photos agree on (median).

Every photo's residual (horizontal and vertical) is kept for the placement check, and the report
gives the tilts, the inliers and the residuals. Cameras strung along one straight line do not fix
the roll about that line, so such a survey is left unregistered rather than registered wrongly.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pycolmap

from splatflow.contract.sfm_settings import Settings
from splatflow.stages.sfm.horizontal_fit import robust_fit
from splatflow.stages.sfm.photos import GpsPosition
from splatflow.stages.sfm.upright import DataUp, UpSource, angle_deg, data_up, rotation_onto_z

log = logging.getLogger(__name__)

MIN_GPS_PHOTOS = 3
MIN_SPREAD_RATIO = 0.05
"""Camera positions whose second principal spread is below this share of the first are a line."""
UP = np.array([0.0, 0.0, 1.0])


@dataclass(frozen=True)
class PhotoResidual:
    """How far a placed photo's camera is from its GPS position after the alignment, in metres."""

    horizontal_m: float
    vertical_m: float


@dataclass(frozen=True)
class GeoRegistration:
    """The outcome: an origin, how the alignment was chosen and its residuals, or why not."""

    registered: bool
    reason: str
    origin: GpsPosition | None = None
    gps_photos: int = 0
    altitude_used: bool = False
    """Whether the GPS altitudes took part (they agreed with the model's own up)."""
    up_source: UpSource | None = None
    gps_altitude_tilt_deg: float | None = None
    """The tilt a fit to the full GPS positions gives the model's own up (the drift it would follow)."""
    tilt_deg: float | None = None
    """The angle between the aligned model's up (z) and the up its own data shows."""
    ground_tilt_deg: float | None = None
    viewing_tilt_deg: float | None = None
    residuals: dict[str, PhotoResidual] = field(default_factory=dict)

    def distance_m(self, name: str) -> float:
        """The residual that judges a photo: horizontal only when the altitudes were not trusted."""
        residual = self.residuals[name]
        return math.hypot(residual.horizontal_m, residual.vertical_m if self.altitude_used else 0.0)

    def without(self, names: set[str]) -> GeoRegistration:
        return dataclasses.replace(
            self, residuals={name: value for name, value in self.residuals.items() if name not in names}
        )

    def summary(self, max_error_m: float) -> dict[str, Any]:
        """The report's view: the per-photo residuals condensed to counts and statistics."""
        summary = {key: value for key, value in dataclasses.asdict(self).items() if key != "residuals"}
        if not self.residuals:
            return summary
        distances = np.array([self.distance_m(name) for name in self.residuals])
        horizontal = np.array([value.horizontal_m for value in self.residuals.values()])
        vertical = np.array([value.vertical_m for value in self.residuals.values()])
        return summary | {
            "gps_photos_placed": len(distances),
            "inliers": int((distances <= max_error_m).sum()),
            "rmse_m": _rounded(np.sqrt(np.mean(distances**2))),
            "median_residual_m": _rounded(np.median(distances)),
            "max_residual_m": _rounded(distances.max()),
            "horizontal_rmse_m": _rounded(np.sqrt(np.mean(horizontal**2))),
            "vertical_rmse_m": _rounded(np.sqrt(np.mean(vertical**2))),
        }


def _rounded(value: float) -> float:
    return round(float(value), 3)


def georegister(
    reconstruction: pycolmap.Reconstruction, positions: dict[str, GpsPosition], settings: Settings
) -> GeoRegistration:
    """Transform ``reconstruction`` in place into ENU metres when its GPS allows it."""
    if not settings.georegister:
        return GeoRegistration(False, "disabled by the georegister setting")
    images = [image for image in reconstruction.images.values() if image.has_pose and image.name in positions]
    if len(images) < MIN_GPS_PHOTOS:
        return GeoRegistration(False, f"{len(images)} registered photos carry GPS (need {MIN_GPS_PHOTOS})")
    names = [image.name for image in images]
    gps = [positions[name] for name in names]
    origin = GpsPosition(
        latitude=float(np.mean([p.latitude for p in gps])),
        longitude=float(np.mean([p.longitude for p in gps])),
        altitude=float(np.mean([p.altitude for p in gps])),
    )
    lat_lon_alt = np.array([[p.latitude, p.longitude, p.altitude] for p in gps])
    enu = pycolmap.GPSTransform().ellipsoid_to_enu(lat_lon_alt, origin.latitude, origin.longitude, origin.altitude)
    if _is_a_line(enu):
        return GeoRegistration(False, "the GPS positions lie on one line", gps_photos=len(images))
    up = data_up(reconstruction)
    centres = np.array([image.projection_center().reshape(3) for image in images])
    ransac = pycolmap.RANSACOptions()
    ransac.max_error = settings.gps_max_error_m
    ransac.random_seed = settings.random_seed
    full = pycolmap.align_reconstruction_to_locations(reconstruction, names, enu, MIN_GPS_PHOTOS, ransac)
    gps_tilt = None if full is None or up is None else angle_deg(full.rotation.matrix() @ up.direction, UP)
    if full is not None and (gps_tilt is None or gps_tilt <= settings.max_gps_tilt_deg):
        enu_from_model, altitude_used = full, True
    elif up is not None:
        levelled = _level_to_horizontal_gps(centres, enu, up, settings)
        if levelled is None:
            return GeoRegistration(False, "the GPS positions do not fit the model", gps_photos=len(images))
        enu_from_model, altitude_used = levelled, False
    else:
        return GeoRegistration(False, "the GPS positions do not fit the model", gps_photos=len(images))
    reconstruction.transform(enu_from_model)
    result = _registration(reconstruction, names, enu, origin, up, altitude_used, gps_tilt)
    log.info(
        "geo-registered to ENU (%s): %d GPS photos, tilt %.1f deg, altitude tilt %s",
        "altitude used" if altitude_used else f"horizontal GPS, up from the {up.source if up else '-'}",
        len(images),
        result.tilt_deg or 0.0,
        "-" if gps_tilt is None else f"{gps_tilt:.1f} deg",
    )
    return result


def _level_to_horizontal_gps(
    centres: np.ndarray, enu: np.ndarray, up: DataUp, settings: Settings
) -> pycolmap.Sim3d | None:
    """Stand the model on its own up, fit the horizontal GPS, and lift it to the GPS altitudes' median."""
    level = rotation_onto_z(up.direction)
    levelled = centres @ level.T
    fit = robust_fit(
        levelled[:, 0] + 1j * levelled[:, 1], enu[:, 0] + 1j * enu[:, 1], settings.gps_max_error_m, settings.random_seed
    )
    if fit is None or fit.scale_turn == 0:
        return None
    scale, turn = abs(fit.scale_turn), np.angle(fit.scale_turn)
    about_z = np.array([[np.cos(turn), -np.sin(turn), 0.0], [np.sin(turn), np.cos(turn), 0.0], [0.0, 0.0, 1.0]])
    height = float(np.median(enu[:, 2] - scale * levelled[:, 2]))
    matrix = np.hstack([scale * about_z @ level, np.array([[fit.shift.real], [fit.shift.imag], [height]])])
    return pycolmap.Sim3d(matrix)


def _registration(
    reconstruction: pycolmap.Reconstruction,
    names: list[str],
    enu: np.ndarray,
    origin: GpsPosition,
    up_before: DataUp | None,
    altitude_used: bool,
    gps_tilt: float | None,
) -> GeoRegistration:
    """The aligned model's residuals and tilts, measured on the model as it now stands."""
    by_name = {image.name: image for image in reconstruction.images.values()}
    centres = np.array([by_name[name].projection_center().reshape(3) for name in names])
    offsets = centres - enu
    residuals = {
        name: PhotoResidual(float(np.hypot(dx, dy)), float(dz))
        for name, (dx, dy, dz) in zip(names, offsets, strict=True)
    }
    up = data_up(reconstruction) if up_before is not None else None
    return GeoRegistration(
        registered=True,
        reason="aligned to GPS" if altitude_used else "aligned to horizontal GPS, altitude from its median",
        origin=origin,
        gps_photos=len(names),
        altitude_used=altitude_used,
        up_source=up.source if up else None,
        gps_altitude_tilt_deg=_optional_round(gps_tilt),
        tilt_deg=_optional_round(angle_deg(up.direction, UP)) if up else None,
        ground_tilt_deg=_optional_round(angle_deg(up.ground, UP)) if up and up.ground is not None else None,
        viewing_tilt_deg=_optional_round(angle_deg(up.viewing, UP)) if up and up.viewing is not None else None,
        residuals=residuals,
    )


def _optional_round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _is_a_line(points: np.ndarray) -> bool:
    spread = np.linalg.svd(points - points.mean(axis=0), compute_uv=False)
    return bool(spread[0] == 0 or spread[1] / spread[0] < MIN_SPREAD_RATIO)
