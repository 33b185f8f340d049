"""Synthetic captures whose right view is known: a subject (a building block on a patch of
ground, 60 m across, centred on the origin, z up) under a far background (a ring of horizon and
sky splats 2 km away, as many as the subject's), photographed three ways a pilot would:

- ``nadir_grid``: a 5 x 5 grid 60 m up, every photo straight down;
- ``orbit``: 16 photos on a 40 m circle 25 m up, each looking at the block;
- ``street``: 12 photos along a street 25 m in front of the block's face, at eye height,
  looking across at it (the far background straight ahead of every one of them).

Cameras follow ``formats.cameras`` (OpenCV: x right, y down, z forward).
"""

from __future__ import annotations

import math

import numpy as np

from splatflow.formats.cameras import Camera, camera_from_matrices
from splatflow.formats.ply import Splats

UP = np.array([0.0, 0.0, 1.0])
SUBJECT_CENTRE = np.array([0.0, 0.0, 4.0])
SUBJECT_HALF_WIDTH = 30.0
BACKGROUND_DISTANCE = 2000.0


def subject_points(count: int, seed: int = 0) -> np.ndarray:
    """A block 20 x 20 x 12 m on ground 60 m across (half on each)."""
    rng = np.random.default_rng(seed)
    ground = rng.uniform(-SUBJECT_HALF_WIDTH, SUBJECT_HALF_WIDTH, size=(count // 2, 3))
    ground[:, 2] = 0.0
    block = rng.uniform(-1, 1, size=(count - count // 2, 3))
    face = rng.integers(0, 3, len(block))
    block[np.arange(len(block)), face] = np.sign(block[np.arange(len(block)), face])
    block = block * np.array([10.0, 10.0, 6.0]) + np.array([0.0, 0.0, 6.0])
    return np.concatenate([ground, block])


def background_points(count: int, seed: int = 1) -> np.ndarray:
    """Horizon and sky: a ring 2 km out, from the horizon up to 40 degrees above it."""
    rng = np.random.default_rng(seed)
    bearing = rng.uniform(0, 2 * math.pi, count)
    elevation = rng.uniform(0, math.radians(40), count)
    return BACKGROUND_DISTANCE * np.stack(
        [np.cos(bearing) * np.cos(elevation), np.sin(bearing) * np.cos(elevation), np.sin(elevation)], axis=1
    )


def splats_at(means: np.ndarray) -> Splats:
    """Opaque grey splats of 0.3 m at ``means``, SH degree 0."""
    count = len(means)
    return Splats(
        means=means.astype(np.float32),
        scales=np.full((count, 3), math.log(0.3), np.float32),
        quats=np.tile(np.array([1, 0, 0, 0], np.float32), (count, 1)),
        opacities=np.full(count, 3.0, np.float32),
        sh_dc=np.zeros((count, 3), np.float32),
        sh_rest=np.zeros((count, 0, 3), np.float32),
    )


def scene_with_background(count: int = 4000) -> tuple[Splats, np.ndarray]:
    """(the splats, which of them are the subject): the subject and as many background splats."""
    subject = subject_points(count)
    means = np.concatenate([subject, background_points(count)])
    return splats_at(means), np.arange(len(means)) < len(subject)


def camera_looking(position: np.ndarray, forward: np.ndarray, name: str, up: np.ndarray = UP) -> Camera:
    """A level 320 x 180 photo (image x horizontal) at ``position`` along ``forward``; a photo
    looking straight down has its image x along east."""
    forward = forward / np.linalg.norm(forward)
    right = np.cross(forward, up)
    right = np.array([1.0, 0.0, 0.0]) if np.linalg.norm(right) < 1e-9 else right / np.linalg.norm(right)
    down = np.cross(forward, right)
    rotation = np.stack([right, down, forward])
    world_to_camera = np.eye(4)
    world_to_camera[:3, :3] = rotation
    world_to_camera[:3, 3] = -rotation @ position
    return camera_from_matrices(name, 320, 180, [[200, 0, 160], [0, 200, 90], [0, 0, 1]], world_to_camera)


def nadir_grid() -> list[Camera]:
    steps = np.linspace(-24.0, 24.0, 5)
    return [
        camera_looking(np.array([x, y, 60.0]), -UP, f"nadir_{i:02d}.jpg")
        for i, (x, y) in enumerate((x, y) for y in steps for x in steps)
    ]


def orbit() -> list[Camera]:
    cameras = []
    for i in range(16):
        angle = 2 * math.pi * i / 16
        position = np.array([40.0 * math.cos(angle), 40.0 * math.sin(angle), 25.0])
        cameras.append(
            camera_looking(position, SUBJECT_CENTRE + np.array([0, 0, 2.0]) - position, f"orbit_{i:02d}.jpg")
        )
    return cameras


def street() -> list[Camera]:
    cameras = []
    for i, x in enumerate(np.linspace(-22.0, 22.0, 12)):
        position = np.array([x, -25.0, 1.6])
        # Looking across the street at the block's face, turned a little along the street and up.
        forward = np.array([0.25 * math.sin(i), 1.0, 0.15])
        cameras.append(camera_looking(position, forward, f"street_{i:02d}.jpg"))
    return cameras


CAPTURES = {"nadir grid": nadir_grid, "orbit": orbit, "street": street}


def photo_positions(cameras: list[Camera]) -> np.ndarray:
    return np.stack([-c.view_matrix()[:3, :3].T @ c.view_matrix()[:3, 3] for c in cameras])


def photo_directions(cameras: list[Camera]) -> np.ndarray:
    return np.stack([c.view_matrix()[2, :3] for c in cameras])


def envelope_figures(view: Camera, photos: list[Camera], up: np.ndarray = UP) -> dict[str, float]:
    """How a view sits in the capture: its distance to the nearest photo, the survey's radius
    (the median distance of the photos from their middle), the angle between its direction and
    the nearest photo direction, and its angle from straight down (degrees)."""
    positions, directions = photo_positions(photos), photo_directions(photos)
    eye = photo_positions([view])[0]
    forward = photo_directions([view])[0]
    middle = np.median(positions, axis=0)
    return {
        "nearest_photo_m": float(np.linalg.norm(positions - eye, axis=1).min()),
        "survey_radius_m": float(np.median(np.linalg.norm(positions - middle, axis=1))),
        "angle_to_photo_deg": math.degrees(math.acos(float(np.clip(directions @ forward, -1, 1).max()))),
        "from_straight_down_deg": math.degrees(math.acos(float(np.clip(-forward @ up, -1, 1)))),
    }


def share_in_frame(view: Camera, points: np.ndarray) -> float:
    """The share of ``points`` in front of ``view`` that project inside its image."""
    return float(in_frame(view, points).mean())


def in_frame(view: Camera, points: np.ndarray) -> np.ndarray:
    """Which of ``points`` are in front of ``view`` and project inside its image."""
    local = points @ view.view_matrix()[:3, :3].T + view.view_matrix()[:3, 3]
    depth = np.where(local[:, 2] > 0, local[:, 2], np.nan)
    u = view.fx * local[:, 0] / depth + view.cx
    v = view.fy * local[:, 1] / depth + view.cy
    return (u >= 0) & (u < view.width) & (v >= 0) & (v < view.height)
