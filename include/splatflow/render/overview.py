"""Virtual cameras that show the whole reconstructed site: the email's preview, its orbit
thumbnails and the viewer's first view.

A held-out photo's viewpoint shows whatever that photo happened to frame (on the demo sample, a
forest SfM found no points in); an overview camera frames the reconstruction itself: it looks
at the middle of the area the splats cover, from above, tilted by a chosen angle and turned by
a chosen azimuth about the scene's up, far enough back that 96 % of the splat centres fit the
frame (so a few far-off splats do not shrink the site to a speck).

The scene's up is the ENU frame's +z when the SfM output is geo-registered; otherwise it is
estimated from the photos' poses (``up_from_cameras``). Cameras follow the OpenCV convention of
``formats.cameras`` (x right, y down, z forward).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from splatflow.formats.cameras import Camera, camera_from_matrices

Vector = npt.NDArray[np.float64]

ENU_UP = (0.0, 0.0, 1.0)
"""Up in the SfM stage's geo-registered frame (x east, y north, z up)."""
HORIZONTAL_FOV_DEGREES = 60.0
FRAME_MARGIN = 0.06
"""Share of the image width and height left free around the framed area."""
EXTENT_PERCENTILES = (2.0, 98.0)
"""The area's extent along each axis, past the few far-off splats every trained scene has."""
FRAMED_PERCENT = 96.0
"""Share of the splat centres the frame holds, from any direction."""
FRAMING_SAMPLE = 20_000
"""Centres the framing distance is computed from (evenly strided)."""
HEADING_STEPS = 36
"""Headings tried (over half a turn) for the image's x axis."""
HEADING_SPREAD = 0.05
"""Below this second eigenvalue (of 1) the photos' x axes are taken as one heading."""


def _unit(vector: npt.ArrayLike) -> Vector:
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
    return _unit(up if up @ looks_and_lifts >= 0 else -up)


def scene_up(cameras: list[Camera], points: npt.ArrayLike, georegistered: bool) -> Vector:
    """+z of the ENU frame when geo-registered, else ``up_from_cameras``."""
    return np.array(ENU_UP) if georegistered else up_from_cameras(cameras, points)


@dataclass(frozen=True)
class Overview:
    camera: Camera
    target: Vector
    """The middle of the framed area, which the camera looks at (an orbit's pivot)."""


def _ground_axes(points: Vector, up: Vector, aspect: float) -> tuple[Vector, Vector]:
    """Two horizontal unit axes, the first to lay along the image's width: of the headings in
    ``HEADING_STEPS`` steps, the one whose framed extents (``EXTENT_PERCENTILES``) fit a frame of
    ``aspect`` (width / height) closest, so the site fills the frame whatever its shape."""
    helper = np.eye(3)[int(np.argmin(np.abs(up)))]
    first = _unit(np.cross(up, helper))
    second = np.cross(up, first)
    flat = points @ np.stack([first, second], axis=1)
    angles = np.linspace(0.0, math.pi, HEADING_STEPS, endpoint=False)
    directions = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    along = flat @ directions.T
    across = flat @ np.stack([-directions[:, 1], directions[:, 0]], axis=1).T
    low, high = EXTENT_PERCENTILES
    widths = np.percentile(along, high, axis=0) - np.percentile(along, low, axis=0)
    heights = np.percentile(across, high, axis=0) - np.percentile(across, low, axis=0)
    best = int(np.argmin(np.maximum(widths / aspect, heights)))
    x_axis = directions[best, 0] * first + directions[best, 1] * second
    return _unit(x_axis), _unit(np.cross(up, x_axis))


def overview_camera(
    points: npt.ArrayLike,
    up: npt.ArrayLike,
    width: int,
    height: int,
    tilt_degrees: float,
    azimuth_degrees: float = 0.0,
    name: str = "overview",
) -> Overview:
    """A ``width`` x ``height`` pinhole camera that frames the area ``points`` cover.

    ``tilt_degrees`` is the angle from straight down (0: a map view); ``azimuth_degrees`` turns
    the camera about ``up`` around the area's middle. At azimuth 0 the image's x axis runs the way
    that lets the area fill the frame (along its longest extent, for an oblong site).
    """
    cloud = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    cloud = cloud[np.isfinite(cloud).all(axis=1)]
    if len(cloud) == 0:
        raise ValueError("no finite points to frame")
    up_axis = _unit(up)
    along, across = _ground_axes(cloud, up_axis, width / height)
    basis = np.stack([along, across, up_axis], axis=1)
    local = cloud @ basis
    low, high = np.percentile(local, EXTENT_PERCENTILES, axis=0)
    centre = basis @ ((low + high) / 2.0)
    turn = math.radians(azimuth_degrees)
    right = math.cos(turn) * along + math.sin(turn) * across
    ahead = np.cross(up_axis, right)  # horizontal, the way the top of the image points
    tilt = math.radians(tilt_degrees)
    forward = -math.cos(tilt) * up_axis + math.sin(tilt) * ahead
    down = np.cross(forward, right)
    rotation = np.stack([right, down, forward])  # world -> camera rows
    focal = (width / 2.0) / math.tan(math.radians(HORIZONTAL_FOV_DEGREES) / 2.0)
    relative = (cloud[:: max(1, len(cloud) // FRAMING_SAMPLE)] - centre) @ rotation.T
    half_x = (width / 2.0) * (1.0 - 2.0 * FRAME_MARGIN) / focal
    half_y = (height / 2.0) * (1.0 - 2.0 * FRAME_MARGIN) / focal
    # A point q (camera axes, camera at the centre) is in frame from distance D on when
    # |q.x| / (q.z + D) <= half_x, and the same for y: D is the distance that frames most of them.
    needed = np.maximum(np.abs(relative[:, 0]) / half_x, np.abs(relative[:, 1]) / half_y) - relative[:, 2]
    distance = float(np.percentile(needed, FRAMED_PERCENT))
    distance = max(distance, 1e-6)
    position = centre - distance * forward
    world_to_camera = np.eye(4)
    world_to_camera[:3, :3] = rotation
    world_to_camera[:3, 3] = -rotation @ position
    intrinsics = [[focal, 0.0, width / 2.0], [0.0, focal, height / 2.0], [0.0, 0.0, 1.0]]
    return Overview(camera_from_matrices(name, width, height, intrinsics, world_to_camera), centre)
