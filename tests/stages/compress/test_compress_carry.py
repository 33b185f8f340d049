"""The stills carried with the compressed splat: orbit cameras keep the subject in view."""

from __future__ import annotations

import numpy as np

from splatflow.formats.cameras import Camera, camera_from_matrices
from splatflow.stages.compress.carry import orbit_cameras, scene_up


def _looking_down_at(center: np.ndarray) -> Camera:
    """A drone-like camera 30 m east and 40 m up, tilted down at ``center`` (z up)."""
    position = center + np.array([30.0, 0.0, 40.0])
    forward = (center - position) / np.linalg.norm(center - position)
    right = np.cross(forward, np.array([0.0, 0.0, 1.0]))
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    rotation = np.stack([right, down, forward])
    world_to_camera = np.eye(4)
    world_to_camera[:3, :3] = rotation
    world_to_camera[:3, 3] = -rotation @ position
    return camera_from_matrices("DJI_0001.JPG", 320, 180, [[300, 0, 160], [0, 300, 90], [0, 0, 1]], world_to_camera)


def _pixel(camera: Camera, point: np.ndarray) -> np.ndarray:
    in_camera = camera.view_matrix() @ np.append(point, 1.0)
    projected = camera.intrinsics() @ in_camera[:3]
    return projected[:2] / projected[2]


def test_orbit_keeps_distance_height_and_the_centre_on_the_same_pixel() -> None:
    center = np.array([5.0, -3.0, 2.0])
    camera = _looking_down_at(center)
    origin = np.linalg.inv(camera.view_matrix())[:3, 3]

    orbits = orbit_cameras(camera, center, np.array([0.0, 0.0, 1.0]), count=3)

    assert len(orbits) == 3
    positions = [np.linalg.inv(o.view_matrix())[:3, 3] for o in orbits]
    for orbit, position in zip(orbits, positions, strict=True):
        assert np.isclose(np.linalg.norm(position - center), np.linalg.norm(origin - center))
        assert np.isclose(position[2], origin[2]), "the orbit keeps the photo's height"
        assert np.allclose(_pixel(orbit, center), _pixel(camera, center)), "the subject stays where it was"
        assert (orbit.width, orbit.height, orbit.fx) == (camera.width, camera.height, camera.fx)
    angles = [np.degrees(np.arctan2(*(p - center)[1::-1])) % 360 for p in positions]
    assert np.allclose(angles, [90.0, 180.0, 270.0]), "equal steps around the scene after the photo's own view"


def test_scene_up_is_the_ground_normal_on_the_cameras_side() -> None:
    rng = np.random.default_rng(0)
    ground = np.column_stack([rng.uniform(-50, 50, 2000), rng.uniform(-30, 30, 2000), rng.normal(2.0, 0.5, 2000)])
    camera = _looking_down_at(np.array([5.0, -3.0, 2.0]))
    assert np.allclose(scene_up(ground, camera), [0.0, 0.0, 1.0], atol=0.02)
    flipped = ground * np.array([1.0, 1.0, -1.0])
    assert np.allclose(scene_up(flipped, camera), [0.0, 0.0, 1.0], atol=0.02), "it points to the camera"
