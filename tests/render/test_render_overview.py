"""The scene's up is found from the photos, whichever way the model's frame is turned."""

from __future__ import annotations

import math

import numpy as np

from splatflow.formats.cameras import Camera, camera_from_matrices
from splatflow.render.overview import scene_up, up_from_cameras


def rotation_about(axis: np.ndarray, degrees: float) -> np.ndarray:
    axis = axis / np.linalg.norm(axis)
    x, y, z = axis
    cross = np.array([[0, -z, y], [z, 0, -x], [-y, x, 0]])
    angle = math.radians(degrees)
    return np.eye(3) + math.sin(angle) * cross + (1 - math.cos(angle)) * cross @ cross


TURN = rotation_about(np.array([0.3, -1.0, 0.5]), 73.0)
"""An arbitrary frame, as SfM without GPS leaves a model in."""


def camera_at(position: np.ndarray, right: np.ndarray, forward: np.ndarray, name: str = "photo") -> Camera:
    down = np.cross(forward, right)
    rotation = np.stack([right, down, forward])
    world_to_camera = np.eye(4)
    world_to_camera[:3, :3] = rotation
    world_to_camera[:3, 3] = -rotation @ position
    return camera_from_matrices(name, 320, 180, [[300, 0, 160], [0, 300, 90], [0, 0, 1]], world_to_camera)


def turned(camera: Camera, rotation: np.ndarray) -> Camera:
    """The same camera in a frame turned by ``rotation`` (world points p become rotation @ p)."""
    world_to_camera = camera.view_matrix().copy()
    world_to_camera[:3, :3] = world_to_camera[:3, :3] @ rotation.T
    return camera_from_matrices(camera.name, camera.width, camera.height, camera.intrinsics(), world_to_camera)


def nadir_survey(headings: list[float]) -> list[Camera]:
    """Drone photos 40 m up (z up), looking straight down, each flown at its own heading."""
    cameras = []
    for index, heading in enumerate(headings):
        turn = math.radians(heading)
        right = np.array([math.cos(turn), math.sin(turn), 0.0])
        position = np.array([10.0 * index, 5.0 * (index % 3), 40.0])
        cameras.append(camera_at(position, right, np.array([0.0, 0.0, -1.0]), f"DJI_{index:04d}.JPG"))
    return cameras


def ground_points(count: int = 3000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.uniform(-60, 80, count), rng.uniform(-25, 35, count), rng.normal(0.0, 1.5, count)])


def test_up_of_a_nadir_survey_is_found_in_any_frame() -> None:
    cameras = nadir_survey([0.0, 35.0, 90.0, 180.0, 250.0, 300.0])
    points = ground_points()

    assert np.allclose(up_from_cameras(cameras, points), [0, 0, 1], atol=1e-6)
    moved = [turned(camera, TURN) for camera in cameras]
    assert np.allclose(up_from_cameras(moved, points @ TURN.T), TURN @ [0, 0, 1], atol=1e-6)


def test_up_of_photos_flown_at_one_heading_comes_from_the_ground_they_cover() -> None:
    """One heading leaves up and the flight direction alike perpendicular to every image x axis;
    the ground's points, spread least along up, decide between them."""
    cameras = [turned(camera, TURN) for camera in nadir_survey([20.0] * 8)]

    up = up_from_cameras(cameras, ground_points() @ TURN.T)

    assert np.allclose(up, TURN @ [0, 0, 1], atol=0.01)


def test_up_of_street_photos_looking_around_is_the_photos_image_up() -> None:
    cameras = []
    for index, heading in enumerate(range(0, 360, 40)):
        turn = math.radians(heading)
        forward = np.array([math.cos(turn), math.sin(turn), -0.1])
        forward /= np.linalg.norm(forward)
        right = np.cross(forward, [0.0, 0.0, 1.0])
        right /= np.linalg.norm(right)
        cameras.append(turned(camera_at(np.array([index * 2.0, 0.0, 1.6]), right, forward), TURN))

    assert np.allclose(up_from_cameras(cameras, ground_points() @ TURN.T), TURN @ [0, 0, 1], atol=0.01)


def test_a_geo_registered_scene_is_up_along_its_z_axis() -> None:
    cameras = [turned(camera, TURN) for camera in nadir_survey([0.0, 90.0, 200.0])]
    assert np.allclose(scene_up(cameras, ground_points(), georegistered=True), [0, 0, 1])
    assert np.allclose(scene_up(cameras, ground_points() @ TURN.T, georegistered=False), TURN @ [0, 0, 1], atol=1e-6)
