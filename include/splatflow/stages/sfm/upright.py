"""Which way is up, read from the model itself: the ground under the cameras and their gaze.

GPS altitude on small drones drifts by tens of metres over a flight, and a similarity fitted to
drifting altitudes tilts the whole model to follow them (a level flight whose EXIF altitude climbs
100 m came out tilted 37 degrees). The model carries two estimates of up that no GPS error
touches: the ground the points lie on (its plane's normal, towards the cameras) and, on a nadir
survey, the cameras' mean viewing direction (straight down on average: a gimbal points the camera
down, and a fixed wing's roll and pitch swing both ways along its back-and-forth lines). The
second does not lean with a hillside, so it is preferred when the cameras look down together and
roughly agree with the ground; otherwise the ground plane is used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pycolmap

UpSource = Literal["viewing direction", "ground plane"]

MIN_GROUND_POINTS = 50
"""Fewer points than this make no plane worth trusting."""
GROUND_FIT_ROUNDS = 3
"""Rounds of refitting the plane to the points within ``GROUND_INLIER_MADS`` of the last one."""
GROUND_INLIER_MADS = 3.0
"""Points further from the plane than this many robust deviations (trees, buildings) are left out."""
UPRIGHT_PHOTOS_MIN_COSINE = 0.5
"""The photos' mean "up" orients the ground's normal when it leans this far along it (60 degrees)."""
NADIR_MIN_CONCENTRATION = 0.8
"""Length of the mean of the cameras' unit viewing directions above which they look one way
together (1: all alike; 0.8: typically within about 35 degrees of their mean)."""
NADIR_MAX_GROUND_ANGLE_DEG = 25.0
"""The cameras' mean gaze counts as straight down only within this angle of the ground's normal."""


@dataclass(frozen=True)
class DataUp:
    """Up in the model's frame, as the model's own points and cameras say (unit vectors)."""

    direction: np.ndarray
    source: UpSource
    ground: np.ndarray | None
    """The ground plane's normal, towards the cameras; None without enough points."""
    viewing: np.ndarray | None
    """Opposite the cameras' mean viewing direction; None when they do not look one way."""


def data_up(reconstruction: pycolmap.Reconstruction) -> DataUp | None:
    """The model's up from its ground and its cameras, or None when neither tells."""
    images = [image for image in reconstruction.images.values() if image.has_pose]
    if not images:
        return None
    centres = np.array([image.projection_center().reshape(3) for image in images])
    points = np.array([point.xyz for point in reconstruction.points3D.values()]).reshape(-1, 3)
    # A photo's "up" (its image rows' upward direction) in the model frame: -R^T e_y.
    photo_ups = np.array([-image.cam_from_world().rotation.matrix()[1] for image in images])
    ground = ground_normal(points, centres.mean(axis=0), photo_ups.mean(axis=0))
    viewing = viewing_up(np.array([image.viewing_direction().reshape(3) for image in images]))
    if viewing is not None and (ground is None or angle_deg(viewing, ground) <= NADIR_MAX_GROUND_ANGLE_DEG):
        return DataUp(viewing, "viewing direction", ground, viewing)
    if ground is not None:
        return DataUp(ground, "ground plane", ground, viewing)
    return None


def ground_normal(points: np.ndarray, cameras_centre: np.ndarray, photos_up: np.ndarray) -> np.ndarray | None:
    """The normal of the plane the points mostly lie on, pointing up.

    Up is the side the photos' own "up" points to when they were taken upright (street-level
    photos, whose cameras stand below the facades that dominate the points); for nadir photos,
    whose "up" lies flat, it is the cameras' side.
    """
    if len(points) < MIN_GROUND_POINTS:
        return None
    inliers = np.ones(len(points), dtype=bool)
    normal = np.zeros(3)
    for _ in range(GROUND_FIT_ROUNDS):
        centre = points[inliers].mean(axis=0)
        normal = np.linalg.svd(points[inliers] - centre, full_matrices=False)[2][2]
        distances = (points - centre) @ normal
        deviation = np.abs(distances - np.median(distances[inliers]))
        limit = GROUND_INLIER_MADS * 1.4826 * np.median(deviation[inliers])
        if limit <= 0 or (deviation <= limit).sum() < MIN_GROUND_POINTS:
            break
        inliers = deviation <= limit
    upright_photos = abs(float(photos_up @ normal)) >= UPRIGHT_PHOTOS_MIN_COSINE
    side = photos_up if upright_photos else cameras_centre - points[inliers].mean(axis=0)
    if side @ normal < 0:
        normal = -normal
    return np.asarray(normal / np.linalg.norm(normal))


def viewing_up(directions: np.ndarray) -> np.ndarray | None:
    """Opposite the cameras' mean viewing direction, when they look one way together."""
    mean = directions.mean(axis=0)
    length = float(np.linalg.norm(mean))
    if length < NADIR_MIN_CONCENTRATION:
        return None
    return np.asarray(-mean / length)


def angle_deg(first: np.ndarray, second: np.ndarray) -> float:
    """The angle between two directions, in degrees."""
    cosine = float(first @ second / (np.linalg.norm(first) * np.linalg.norm(second)))
    return float(np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0))))


def rotation_onto_z(direction: np.ndarray) -> np.ndarray:
    """The smallest rotation taking the unit vector ``direction`` onto +z."""
    z = np.array([0.0, 0.0, 1.0])
    axis = np.cross(direction, z)
    length = float(np.linalg.norm(axis))
    if length < 1e-12:
        return np.eye(3) if direction @ z > 0 else np.diag([1.0, -1.0, -1.0])
    angle = np.arctan2(length, float(direction @ z))
    return np.asarray(pycolmap.Rotation3d(axis / length * angle).matrix())
