"""``tileset.json``: the splat on the globe, as a 3D Tiles 1.1 tileset of one tile.

The root's transform takes the splat's frame (east, north, up in metres about the survey's GPS
origin, from the SfM stage's geo-registration) to Earth-centred, Earth-fixed WGS84 coordinates:
its columns are the local east, north and up directions at the origin and the origin's ECEF
position (the standard geodetic formulas, WGS84's semi-major axis and flattening). The content
is the compression stage's SPZ-compressed ``.glb`` (``formats.glb.encode_spz_glb``): CesiumJS
1.145 draws Gaussian splats from 3D Tiles only when the tileset's ``3DTILES_content_gltf``
requires ``KHR_gaussian_splatting`` and ``KHR_gaussian_splatting_compression_spz_2``
(``GaussianSplat3DTileContent.tilesetRequiresGaussianSplattingExt``), and turns the glTF's
y-up into the tile's z-up itself (``GaussianSplatPrimitive.transformTile``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

WGS84_A = 6378137.0
WGS84_F = 1 / 298.257223563
GLTF_EXTENSIONS = ["KHR_gaussian_splatting", "KHR_gaussian_splatting_compression_spz_2"]


@dataclass(frozen=True)
class GeoOrigin:
    """WGS84 latitude and longitude in degrees, ellipsoidal altitude in metres."""

    latitude: float
    longitude: float
    altitude: float


def ecef(origin: GeoOrigin) -> tuple[float, float, float]:
    """The origin's Earth-centred, Earth-fixed position in metres."""
    lat, lon = math.radians(origin.latitude), math.radians(origin.longitude)
    e2 = WGS84_F * (2 - WGS84_F)
    n = WGS84_A / math.sqrt(1 - e2 * math.sin(lat) ** 2)
    return (
        (n + origin.altitude) * math.cos(lat) * math.cos(lon),
        (n + origin.altitude) * math.cos(lat) * math.sin(lon),
        (n * (1 - e2) + origin.altitude) * math.sin(lat),
    )


def enu_to_ecef(origin: GeoOrigin) -> list[float]:
    """The 4x4 transform from east-north-up metres at ``origin`` to ECEF, column-major as 3D Tiles wants."""
    lat, lon = math.radians(origin.latitude), math.radians(origin.longitude)
    east = (-math.sin(lon), math.cos(lon), 0.0)
    north = (-math.sin(lat) * math.cos(lon), -math.sin(lat) * math.sin(lon), math.cos(lat))
    up = (math.cos(lat) * math.cos(lon), math.cos(lat) * math.sin(lon), math.sin(lat))
    return [*east, 0.0, *north, 0.0, *up, 0.0, *ecef(origin), 1.0]


def georegistered_origin(sfm_report: Mapping[str, Any] | None) -> tuple[GeoOrigin | None, str]:
    """The GPS origin of a geo-registered run, or None and why the run has no place on the map."""
    if sfm_report is None:
        return None, "the run reused a model without its SfM output, so its GPS origin is unknown"
    registration = sfm_report.get("georegistration")
    if not isinstance(registration, Mapping) or not registration.get("registered"):
        reason = registration.get("reason") if isinstance(registration, Mapping) else None
        return None, f"the photos could not be aligned to GPS ({reason or 'no GPS in the photos'})"
    origin = registration.get("origin")
    if not isinstance(origin, Mapping):
        return None, "the SfM report gives no usable GPS origin"
    try:
        return GeoOrigin(float(origin["latitude"]), float(origin["longitude"]), float(origin["altitude"])), ""
    except (TypeError, KeyError, ValueError):
        return None, "the SfM report gives no usable GPS origin"


def build_tileset(origin: GeoOrigin, content_uri: str, centre: list[float], radius_m: float) -> dict[str, Any]:
    """A one-tile tileset: ``content_uri`` (relative to the tileset) placed at ``origin``.

    ``centre`` and ``radius_m`` bound the splats in the ENU frame (the compression report's).
    """
    gltf = {"extensionsUsed": GLTF_EXTENSIONS, "extensionsRequired": GLTF_EXTENSIONS}
    return {
        "asset": {"version": "1.1", "generator": "splatflow"},
        "extensionsUsed": ["3DTILES_content_gltf"],
        "extensions": {"3DTILES_content_gltf": gltf},
        "geometricError": radius_m,
        "root": {
            "transform": enu_to_ecef(origin),
            "boundingVolume": {"sphere": [*centre, radius_m]},
            "geometricError": 0.0,
            "refine": "REPLACE",
            "content": {"uri": content_uri},
        },
    }
