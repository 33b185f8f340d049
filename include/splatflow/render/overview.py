"""The scene's up, which the stills and the viewer's first view hold image-up (``capture_views``
places them; the compression stage reads the up the training stage wrote).

The scene's up is the ENU frame's +z when the SfM output is geo-registered; otherwise it is
estimated from the photos' poses (``up_from_cameras``). Cameras follow the OpenCV convention of
``formats.cameras`` (x right, y down, z forward).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from splatflow.formats.cameras import Camera

Vector = npt.NDArray[np.float64]

ENU_UP = (0.0, 0.0, 1.0)
"""Up in the SfM stage's geo-registered frame (x east, y north, z up)."""
HEADING_SPREAD = 0.05
"""Below this second eigenvalue (of 1) the photos' x axes are taken as one heading."""


def unit_vector(vector: npt.ArrayLike) -> Vector:
    array = np.asarray(vector, dtype=np.float64)
    length = float(np.linalg.norm(array))
    if length == 0.0 or not math.isfinite(length):
        raise ValueError("a direction of zero or non-finite length")
    return array / length


def _camera_axes(camera: Camera) -> Vector:
    """(3, 3): the camera's x (right), y (down) and z (forward) axes in world coordinates, as rows."""
    return camera.view_matrix()[:3, :3]


def up_from_cameras(cameras: list[Camera], points: npt.ArrayLike) -> Vector:
    """The scene's up, for a model with no geo-registration, from how the photos were held.

    A photo is taken level, drone or hand-held: its x axis (image right) is horizontal, so up is
    the direction most perpendicular to every photo's x axis. When the photos share one heading
    (a single flight line, a walk down one street) that leaves a plane of candidates; the scene's
    points then decide, as the direction they spread least along within it (the ground). The
    sign makes the photos look down or level and hold their image up upwards.
    """
    axes = np.stack([_camera_axes(camera) for camera in cameras])
    rights = axes[:, 0, :]
    values, vectors = np.linalg.eigh(rights.T @ rights / len(cameras))
    if values[1] >= HEADING_SPREAD:
        up = vectors[:, 0]
    else:
        heading = vectors[:, 2]
        spread = np.asarray(points, dtype=np.float64)
        spread = spread - np.median(spread, axis=0)
        plane = np.linalg.svd(np.eye(3) - np.outer(heading, heading))[0][:, :2]
        local = spread @ plane
        _, local_axes = np.linalg.eigh(local.T @ local)
        up = plane @ local_axes[:, 0]
    looks_and_lifts = -(axes[:, 2, :] + axes[:, 1, :]).sum(axis=0)
    return unit_vector(up if up @ looks_and_lifts >= 0 else -up)


def scene_up(cameras: list[Camera], points: npt.ArrayLike, georegistered: bool) -> Vector:
    """+z of the ENU frame when geo-registered, else ``up_from_cameras``."""
    return np.array(ENU_UP) if georegistered else up_from_cameras(cameras, points)
