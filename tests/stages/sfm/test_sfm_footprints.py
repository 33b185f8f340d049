"""Footprint geometry: GPS to metres on the ground, and how near two photos must be to overlap."""

from __future__ import annotations

import numpy as np
import pytest

from splatflow.stages.sfm.camera_view import CameraView
from splatflow.stages.sfm.footprints import _down_in_camera, _median_drop, footprint_reach, horizontal_positions
from splatflow.stages.sfm.photos import GpsPosition, Photo


def photo(name: str, gps: GpsPosition | None, width: int = 1600, height: int = 1200, focal: float = 1100.0) -> Photo:
    return Photo(name, width, height, "camera", focal, True, gps)


def test_gps_positions_become_metres_east_and_north_of_the_survey_centre() -> None:
    # 0.001 degree of latitude is 111 m; of longitude at 60 degrees north, half of that.
    photos = [
        photo("a", GpsPosition(60.000, 10.000, 300.0)),
        photo("b", GpsPosition(60.001, 10.000, 380.0)),
        photo("c", GpsPosition(60.000, 10.002, 250.0)),
        photo("no-gps", None),
    ]
    positions = horizontal_positions(photos)
    assert positions.keys() == {"a", "b", "c"}
    assert np.linalg.norm(positions["b"] - positions["a"]) == pytest.approx(111.4, abs=0.5)
    assert np.linalg.norm(positions["c"] - positions["a"]) == pytest.approx(111.6, abs=0.5)
    # Altitudes (80 m apart here) play no part: the positions are on the ground plane.
    assert positions["b"][0] == pytest.approx(positions["a"][0], abs=0.01)


def test_photos_overlap_within_the_narrow_side_of_the_footprint_less_the_required_overlap() -> None:
    # 57 m up, 1200 px across the narrow side at a focal length of 1100 px: 62.2 m of ground.
    photos = [photo("a", None), photo("b", None, width=1200, height=1600)]
    assert footprint_reach(57.0, photos, min_overlap=0.33) == pytest.approx(0.67 * 57.0 * 1200 / 1100)
    # The longest focal length (narrowest footprint) of a mixed survey sets the reach.
    photos.append(photo("tele", None, focal=2200.0))
    assert footprint_reach(57.0, photos, min_overlap=0.0) == pytest.approx(57.0 * 1200 / 2200)


def oblique_pair_rays(pitch_deg: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two cameras 40 m up and 10 m apart (east), both facing north ``-pitch_deg`` below the
    horizon, seeing ground points around where their centres meet the ground: the second camera's
    pose from the first (in metres) and both cameras' normalised image points."""
    depression = np.radians(-pitch_deg)
    forward = np.array([0.0, np.cos(depression), -np.sin(depression)])
    right = np.array([1.0, 0.0, 0.0])
    cam_from_world = np.array([right, np.cross(forward, right), forward])
    first, second = np.array([0.0, 0.0, 40.0]), np.array([10.0, 0.0, 40.0])
    aim = first + forward * 40.0 / np.sin(depression)
    grid = np.array([[x, y, 0.0] for x in range(-10, 11, 4) for y in range(-10, 11, 4)], dtype=float)
    ground = aim + grid
    in_first = (ground - first) @ cam_from_world.T
    in_second = (ground - second) @ cam_from_world.T
    cam2_from_cam1 = np.hstack([np.eye(3), (cam_from_world @ (first - second))[:, None]])
    return cam2_from_cam1, in_first[:, :2] / in_first[:, 2:], in_second[:, :2] / in_second[:, 2:]


def test_an_oblique_pair_measures_the_height_along_the_worlds_down_not_the_cameras_depth() -> None:
    pose, rays1, rays2 = oblique_pair_rays(pitch_deg=-45.0)
    view = CameraView(pitch_deg=-45.0, yaw_deg=0.0)
    assert _median_drop(pose, rays1, rays2, _down_in_camera(view)) == pytest.approx(40.0, rel=1e-6)
    # Taken as nadir, the same points' depth is the slant range to the ground: 40 * sqrt(2).
    assert _median_drop(pose, rays1, rays2, _down_in_camera(None)) == pytest.approx(40.0 * np.sqrt(2), rel=0.05)


def test_a_nadir_pair_measures_the_same_height_with_or_without_its_view() -> None:
    pose, rays1, rays2 = oblique_pair_rays(pitch_deg=-90.0)
    nadir = _median_drop(pose, rays1, rays2, _down_in_camera(CameraView(pitch_deg=-90.0, yaw_deg=0.0)))
    assert nadir == pytest.approx(40.0, rel=1e-6)
    assert _median_drop(pose, rays1, rays2, _down_in_camera(None)) == pytest.approx(nadir, rel=1e-9)
