"""Pairing by what each view sees on the ground: synthetic cameras whose footprints are known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from splatflow.stages.sfm.camera_view import CameraView
from splatflow.stages.sfm.footprints import footprint_reach
from splatflow.stages.sfm.ground_pairs import ground_footprint, ground_pairs
from splatflow.stages.sfm.photos import Photo

HEIGHT_M = 40.0
WIDTH, HEIGHT, FOCAL = 1600, 1200, 1200.0
"""A 4:3 photo whose narrow side spans one camera height of ground when it looks straight down."""


def photo(name: str, view: CameraView | None) -> Photo:
    return Photo(name, WIDTH, HEIGHT, "camera", FOCAL, True, None, view)


def pair(first: str, second: str) -> tuple[str, str]:
    return (min(first, second), max(first, second))


def test_a_nadir_view_sees_the_ground_under_the_camera() -> None:
    footprint = ground_footprint(photo("a", CameraView(-90.0, 30.0)), np.array([5.0, 7.0]), HEIGHT_M)
    assert footprint is not None
    np.testing.assert_allclose(footprint.centre, [5.0, 7.0], atol=1e-9)
    assert footprint.narrow_side_m == pytest.approx(HEIGHT_M * HEIGHT / FOCAL)


def test_an_oblique_view_sees_the_ground_ahead_of_the_camera_in_the_direction_it_faces() -> None:
    # 45 degrees down, facing east: the view's centre meets the ground one height east of the
    # camera, at a slant range of height * sqrt(2); the ground along the heading is stretched.
    footprint = ground_footprint(photo("a", CameraView(-45.0, 90.0)), np.array([0.0, 0.0]), HEIGHT_M)
    assert footprint is not None
    np.testing.assert_allclose(footprint.centre, [HEIGHT_M, 0.0], atol=1e-9)
    slant = HEIGHT_M * math.sqrt(2)
    assert footprint.narrow_side_m == pytest.approx(min(slant * WIDTH / FOCAL, slant * HEIGHT / FOCAL * math.sqrt(2)))


def test_a_view_of_the_horizon_or_without_a_gimbal_reading_has_no_footprint() -> None:
    position = np.array([0.0, 0.0])
    assert ground_footprint(photo("level", CameraView(0.0, 0.0)), position, HEIGHT_M) is None
    assert ground_footprint(photo("up", CameraView(15.0, 0.0)), position, HEIGHT_M) is None
    assert ground_footprint(photo("unknown", None), position, HEIGHT_M) is None


def orbit(count: int, radius_m: float) -> tuple[list[Photo], dict[str, np.ndarray]]:
    """Cameras on a circle round the origin, each looking in at it."""
    photos, positions = [], {}
    pitch = -math.degrees(math.atan2(HEIGHT_M, radius_m))
    for index in range(count):
        bearing = 2 * math.pi * index / count  # from north, clockwise, of the camera seen from the centre
        name = f"orbit{index:02d}"
        positions[name] = radius_m * np.array([math.sin(bearing), math.cos(bearing)])
        photos.append(photo(name, CameraView(pitch, math.degrees(bearing) + 180.0)))
    return photos, positions


def test_views_from_opposite_sides_of_an_orbit_that_see_the_same_ground_are_paired() -> None:
    photos, positions = orbit(12, radius_m=60.0)
    pairing = ground_pairs(photos, positions, HEIGHT_M, 0.33, max_neighbors=20, max_distance_m=200.0)
    # All twelve look at the centre: every pair shares its ground, 120 m apart or not.
    assert pairing.pairs == {pair(a.name, b.name) for a in photos for b in photos if a.name < b.name}
    assert (pairing.by_footprint, pairing.by_gps) == (12, 0)


def test_with_few_neighbours_allowed_an_orbit_keeps_the_views_from_nearby() -> None:
    photos, positions = orbit(12, radius_m=60.0)
    pairing = ground_pairs(photos, positions, HEIGHT_M, 0.33, max_neighbors=2, max_distance_m=200.0)
    # The centre is seen by all; the two neighbours along the orbit see it from nearest.
    assert pairing.pairs == {pair(f"orbit{index:02d}", f"orbit{(index + 1) % 12:02d}") for index in range(12)}


def test_views_side_by_side_that_look_away_from_each_other_are_not_paired() -> None:
    # Two cameras 4 m apart, one facing north and one south, 30 degrees down: each sees ground
    # 69 m away on its own side. A nadir rule would pair them (4 m apart, a 40 m footprint).
    photos = [photo("north", CameraView(-30.0, 0.0)), photo("south", CameraView(-30.0, 180.0))]
    positions = {"north": np.array([0.0, 2.0]), "south": np.array([0.0, -2.0])}
    assert footprint_reach(HEIGHT_M, photos, 0.33) > 4.0
    pairing = ground_pairs(photos, positions, HEIGHT_M, 0.33, max_neighbors=20, max_distance_m=200.0)
    assert pairing.pairs == set()


def test_nadir_views_are_paired_as_the_nadir_footprint_rule_pairs_them() -> None:
    # A 6 x 5 grid, 12 m between shots: footprint matching before views were read paired the
    # photos whose GPS positions lie within footprint_reach of each other.
    photos, positions = [], {}
    for row in range(5):
        for column in range(6):
            name = f"grid{row}{column}"
            photos.append(photo(name, CameraView(-90.0, 0.0)))
            positions[name] = np.array([12.0 * column, 12.0 * row])
    reach = footprint_reach(HEIGHT_M, photos, 0.33)
    nadir_rule = {
        pair(a.name, b.name)
        for a in photos
        for b in photos
        if a.name < b.name and np.linalg.norm(positions[a.name] - positions[b.name]) <= reach
    }
    pairing = ground_pairs(photos, positions, HEIGHT_M, 0.33, max_neighbors=30, max_distance_m=200.0)
    assert pairing.pairs == nadir_rule
    assert 0 < len(nadir_rule) < 30 * 29 // 2


def test_a_photo_without_a_view_is_paired_with_its_nearest_gps_neighbours() -> None:
    photos, positions = orbit(12, radius_m=60.0)
    photos.append(photo("no-xmp", None))
    positions["no-xmp"] = np.array([0.0, 62.0])  # just outside orbit00 (at 0, 60)
    pairing = ground_pairs(photos, positions, HEIGHT_M, 0.33, max_neighbors=3, max_distance_m=200.0)
    partners = {name for first, second in pairing.pairs if "no-xmp" in (first, second) for name in (first, second)}
    assert partners == {"no-xmp", "orbit00", "orbit01", "orbit11"}
    assert (pairing.by_footprint, pairing.by_gps) == (12, 1)


def test_a_level_view_is_paired_by_gps_and_never_further_than_the_spatial_limit() -> None:
    photos = [photo("street", CameraView(0.0, 90.0)), photo("near", None), photo("far", None)]
    positions = {"street": np.array([0.0, 0.0]), "near": np.array([30.0, 0.0]), "far": np.array([500.0, 0.0])}
    pairing = ground_pairs(photos, positions, HEIGHT_M, 0.33, max_neighbors=20, max_distance_m=200.0)
    assert pairing.pairs == {pair("near", "street")}
    assert (pairing.by_footprint, pairing.by_gps) == (0, 3)
