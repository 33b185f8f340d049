import numpy as np
import pycolmap
import pytest

from splatflow.pipeline.tileset import (
    GLTF_EXTENSIONS,
    GeoOrigin,
    build_tileset,
    ecef,
    enu_to_ecef,
    georegistered_origin,
)

BRIGHTON = GeoOrigin(50.8198, -0.1366, 48.0)
GPS = pycolmap.GPSTransform()


@pytest.mark.parametrize("origin", [BRIGHTON, GeoOrigin(-33.86, 151.21, 5.0), GeoOrigin(78.2, 15.6, 300.0)])
def test_the_root_transform_puts_enu_points_where_pycolmap_puts_them(origin):
    matrix = np.array(enu_to_ecef(origin)).reshape(4, 4).T
    points = np.array([[0.0, 0.0, 0.0], [120.0, -80.0, 15.0], [-300.0, 450.0, -20.0]])
    expected = GPS.ellipsoid_to_ecef(
        GPS.enu_to_ellipsoid(list(points), origin.latitude, origin.longitude, origin.altitude)
    )
    placed = (matrix @ np.hstack([points, np.ones((3, 1))]).T).T[:, :3]
    np.testing.assert_allclose(placed, np.array(expected), atol=0.01)
    np.testing.assert_allclose(ecef(origin), np.array(expected[0]), atol=0.001)
    up = matrix[:3, 2]
    assert np.dot(up, np.array(ecef(origin)) / np.linalg.norm(ecef(origin))) > 0.99, "z is up, away from the Earth"


def test_the_tileset_requires_the_splat_extensions_cesium_draws():
    tileset = build_tileset(BRIGHTON, "tile.glb", [1.0, 2.0, 3.0], 40.0)
    assert tileset["extensions"]["3DTILES_content_gltf"]["extensionsRequired"] == GLTF_EXTENSIONS
    assert "3DTILES_content_gltf" in tileset["extensionsUsed"]
    assert tileset["root"]["content"] == {"uri": "tile.glb"}
    assert tileset["root"]["boundingVolume"] == {"sphere": [1.0, 2.0, 3.0, 40.0]}


def test_only_a_geo_registered_report_gives_an_origin_and_otherwise_says_why():
    registered = {
        "georegistration": {"registered": True, "origin": {"latitude": 50.8, "longitude": -0.1, "altitude": 4}}
    }
    assert georegistered_origin(registered) == (GeoOrigin(50.8, -0.1, 4.0), "")
    origin, reason = georegistered_origin({"georegistration": {"registered": False, "reason": "no photo has GPS"}})
    assert origin is None and "no photo has GPS" in reason
    origin, reason = georegistered_origin(None)
    assert origin is None and "GPS origin is unknown" in reason
