"""Views from where a pilot would stand: the email's preview, its orbit thumbnails and the
viewer's first view, framed on the subject from inside the capture's envelope.

Framing all the splats (as a bounding view would) lets the far ones a trained scene always has
(sky, horizon trees, distant hills) decide the view: on an oblique orbit that puts the camera
kilometres above a site photographed from 40 m. Here the photos decide, whatever the geometry:

- **What the photos look at.** Each photo's *aim point* is the first surface along its optical
  axis: the splats in a narrow cone about the axis, the nearest ``AIM_DEPTH_PERCENTILE`` of
  their depths. A nadir photo aims at the ground below it, an orbit photo at the building in the
  middle, a street photo at the facade it faces. The *subject* is the middle of the aim points
  (their median), its extent the splats some photo sees no further than ``NEAR_DEPTH_FACTOR``
  times its aim depth (or its distance to the subject, for a photo aimed past it at the sky);
  everything else is *background*, kept in the model but never framed.
- **From where the photos were taken.** The preview looks at the subject along the photos'
  typical direction (the photo direction closest, on average, to all the others: a nadir grid's
  straight down, an orbit's inward tilt, a street's look across), from a point on that line
  within the survey's radius (the median distance of the photos from their middle) of some
  photo, as near as frames the subject (an orbit: on the orbit; a street: in the street). What
  does not fit from there is fitted by widening the lens, up to ``MAX_HORIZONTAL_FOV_DEGREES``.
  A survey flown looking down may be climbed over: its preview stands above the middle of the
  site, high enough that the whole surveyed area fits, looking down ``MAP_TILT_DEGREES`` off
  vertical, level (the viewer's orbit camera cannot roll), the site's long side across.

The thumbnails look from photos spread around the subject, each turned from its photo's
direction towards the subject by at most ``MAX_TURN_DEGREES``, never from behind its photo. Cameras follow the
OpenCV convention of ``formats.cameras`` (x right, y down, z forward).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from splatflow.formats.cameras import Camera, camera_from_matrices
from splatflow.render.overview import unit_vector

Vector = npt.NDArray[np.float64]

HORIZONTAL_FOV_DEGREES = 60.0
MAX_HORIZONTAL_FOV_DEGREES = 90.0
"""The widest lens a view may take to fit the subject when it may move back no further."""
FRAME_MARGIN = 0.06
"""Share of the image width and height left free around the subject."""
FRAMED_PERCENT = 96.0
"""Share of the subject's splats the frame holds (a few stray ones do not shrink it)."""
AIM_CONE_DEGREES = 6.0
"""Half-angle of the cone about a photo's optical axis whose splats give its aim point."""
AIM_MIN_SPLATS = 8
"""Fewer splats than this in the cone: the photo's whole field of view gives its aim point."""
AIM_DEPTH_PERCENTILE = 20.0
"""Of the depths in the cone, the one taken as the first surface (past a few floaters)."""
NEAR_DEPTH_FACTOR = 2.0
"""A splat is part of the subject when some photo sees it within this many times its aim depth."""
NADIR_DEGREES = 30.0
"""Photos looking this close to straight down are a survey from above, which may be climbed over."""
MAP_TILT_DEGREES = 15.0
"""A survey from above is previewed this far from straight down: a map that still reads as 3D."""
MAX_TURN_DEGREES = 30.0
"""A thumbnail turns from its photo's direction towards the subject by at most this."""
SAMPLE = 200_000
"""Splats the framing is computed from (evenly strided), which is plenty to place a camera."""


@dataclass(frozen=True)
class CaptureView:
    camera: Camera
    target: Vector
    """The subject's middle, which the camera looks at (an orbit's pivot in the viewer)."""


@dataclass(frozen=True)
class Capture:
    """The photos' poses and what they look at, in the splat's frame."""

    cameras: list[Camera]
    """The photos that see some splat, in the order of the arrays below."""
    positions: Vector
    """(C, 3) photo centres."""
    directions: Vector
    """(C, 3) unit optical axes."""
    rights: Vector
    """(C, 3) unit image x axes."""
    aim_depths: Vector
    """(C,) distance along each photo's axis to the first surface it looks at, at most its
    distance to the subject."""
    subject: Vector
    """The middle of the photos' aim points."""
    radius: float
    """The survey's radius: the median distance of the photos from their middle."""

    @property
    def aim_points(self) -> Vector:
        return self.positions + self.aim_depths[:, None] * self.directions


def _depths_and_frustum(camera: Camera, points: Vector) -> tuple[Vector, npt.NDArray[np.bool_], Vector]:
    """(depth of each point, whether it projects into the image, cosine to the optical axis)."""
    view = camera.view_matrix()
    local = points @ view[:3, :3].T + view[:3, 3]
    depth = local[:, 2]
    ahead = depth > 0
    safe = np.where(ahead, depth, 1.0)
    u = camera.fx * local[:, 0] / safe + camera.cx
    v = camera.fy * local[:, 1] / safe + camera.cy
    inside = ahead & (u >= 0) & (u < camera.width) & (v >= 0) & (v < camera.height)
    cosine = np.where(ahead, depth / np.maximum(np.linalg.norm(local, axis=1), 1e-12), -1.0)
    return depth, inside, cosine


def _aim_depth(camera: Camera, points: Vector) -> float | None:
    depth, inside, cosine = _depths_and_frustum(camera, points)
    in_cone = cosine >= math.cos(math.radians(AIM_CONE_DEGREES))
    chosen = in_cone if in_cone.sum() >= AIM_MIN_SPLATS else inside
    if not chosen.any():
        return None
    return float(np.percentile(depth[chosen], AIM_DEPTH_PERCENTILE))


def _strided(points: npt.ArrayLike) -> Vector:
    cloud = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    cloud = cloud[np.isfinite(cloud).all(axis=1)]
    return cloud[:: max(1, len(cloud) // SAMPLE)]


def read_capture(cameras: list[Camera], points: npt.ArrayLike) -> Capture:
    """The photos' poses and aim points over ``points`` (the splat centres); a photo that sees
    no splat at all is left out. Raises ``ValueError`` when no photo sees any."""
    cloud = _strided(points)
    if len(cloud) == 0:
        raise ValueError("no finite splat centres to frame")
    kept, depths = [], []
    for camera in cameras:
        depth = _aim_depth(camera, cloud)
        if depth is not None and depth > 0:
            kept.append(camera)
            depths.append(depth)
    if not kept:
        raise ValueError("none of the photos' cameras sees any of the splats")
    rotations = np.stack([camera.view_matrix()[:3, :3] for camera in kept])
    views = np.stack([camera.view_matrix() for camera in kept])
    positions = -np.einsum("cji,cj->ci", rotations, views[:, :3, 3])
    directions, rights = rotations[:, 2, :], rotations[:, 0, :]
    aim_depths = np.array(depths)
    aims = positions + aim_depths[:, None] * directions
    middle = np.median(positions, axis=0)
    radius = float(np.median(np.linalg.norm(positions - middle, axis=1)))
    subject = np.median(aims, axis=0)
    # A photo aimed past the subject (at the sky, down a street) sees the subject no further off
    # than the subject itself: that bounds what it counts as near.
    aim_depths = np.minimum(aim_depths, np.linalg.norm(subject - positions, axis=1))
    return Capture(kept, positions, directions, rights, aim_depths, subject, radius)


def subject_mask(capture: Capture, points: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Which of ``points`` belong to the subject: seen by some photo no further than
    ``NEAR_DEPTH_FACTOR`` times that photo's aim depth. The rest is background (sky, horizon)."""
    cloud = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    near = np.zeros(len(cloud), dtype=bool)
    for camera, depth in zip(capture.cameras, capture.aim_depths, strict=True):
        seen_depth, inside, _ = _depths_and_frustum(camera, cloud)
        near |= inside & (seen_depth <= NEAR_DEPTH_FACTOR * depth)
    return near


def _fit(relative: Vector, width: int, height: int, distance_range: tuple[float, float]) -> tuple[float, float]:
    """(distance back from the subject, focal length in pixels) that frame ``FRAMED_PERCENT`` of
    ``relative`` (points in the view's axes, about the subject): the default lens from the nearest
    distance in range that fits, else the farthest distance in range with the lens widened."""
    focal = (width / 2.0) / math.tan(math.radians(HORIZONTAL_FOV_DEGREES) / 2.0)
    widest = (width / 2.0) / math.tan(math.radians(MAX_HORIZONTAL_FOV_DEGREES) / 2.0)
    free_x = (width / 2.0) * (1.0 - 2.0 * FRAME_MARGIN)
    free_y = (height / 2.0) * (1.0 - 2.0 * FRAME_MARGIN)
    # A point q is in frame from distance D with focal f when f |q.x| <= free_x (q.z + D), same for y.
    spread = np.maximum(np.abs(relative[:, 0]) / free_x, np.abs(relative[:, 1]) / free_y)
    needed = float(np.percentile(focal * spread - relative[:, 2], FRAMED_PERCENT))
    low, high = distance_range
    if needed <= high:
        return max(needed, low), focal
    # From ``high``, the focal length that keeps the same share of points in frame.
    allowed = (relative[:, 2] + high) / np.maximum(spread, 1e-12)
    fitted = float(np.percentile(np.where(relative[:, 2] + high > 0, allowed, 0.0), 100.0 - FRAMED_PERCENT))
    return high, min(focal, max(widest, fitted))


def _view_along(
    capture: Capture,
    forward: Vector,
    right_hint: Vector,
    framed: Vector,
    size: tuple[int, int],
    name: str,
    distances: list[tuple[float, float]],
    through: Vector | None = None,
) -> CaptureView:
    """A view looking along ``forward`` through ``through`` (the subject, unless given), framing
    ``framed``, from a distance back within one of ``distances`` (the one that frames best),
    image x along ``right_hint``."""
    pivot = capture.subject if through is None else through
    width, height = size
    right = right_hint - (right_hint @ forward) * forward
    right = unit_vector(
        right if np.linalg.norm(right) > 1e-6 else np.cross(forward, np.eye(3)[np.argmin(np.abs(forward))])
    )
    down = np.cross(forward, right)
    rotation = np.stack([right, down, forward])  # world -> camera rows
    relative = (framed - pivot) @ rotation.T
    fits = [_fit(relative, width, height, span) for span in distances]
    # The default lens where one is enough, else the widest span's; among those, the nearest view.
    distance, focal = max(fits, key=lambda fit: (fit[1], -fit[0]))
    eye = pivot - distance * forward
    world_to_camera = np.eye(4)
    world_to_camera[:3, :3] = rotation
    world_to_camera[:3, 3] = -rotation @ eye
    intrinsics = [[focal, 0.0, width / 2.0], [0.0, focal, height / 2.0], [0.0, 0.0, 1.0]]
    return CaptureView(camera_from_matrices(name, width, height, intrinsics, world_to_camera), capture.subject)


def _spans_near_photos(capture: Capture, forward: Vector) -> list[tuple[float, float]]:
    """The distances D back from the subject along ``forward`` at which the eye stands within
    the survey's radius of some photo: ||subject - D forward - photo|| <= radius, per photo."""
    radius = max(capture.radius, 1e-6)
    offsets = capture.subject - capture.positions
    along = offsets @ forward
    # ||offset - D f||^2 = D^2 - 2 D along + |offset|^2 <= radius^2
    slack = along**2 - (offsets**2).sum(axis=1) + radius**2
    spans = [(a - math.sqrt(z), a + math.sqrt(z)) for a, z in zip(along, slack, strict=True) if z >= 0]
    return [(max(low, 1e-6), high) for low, high in spans if high > 1e-6]


def _longest_across(points: Vector, forward: Vector) -> Vector:
    """The direction across ``forward`` (for a map: across up) along which ``points`` spread
    most, so an oblong site lies along the frame's width."""
    flat = points - points.mean(axis=0)
    flat = flat - np.outer(flat @ forward, forward)
    _, vectors = np.linalg.eigh(flat.T @ flat)
    return np.asarray(vectors[:, 2], dtype=np.float64)


def preview_view(capture: Capture, up: Vector, framed: Vector, size: tuple[int, int], name: str) -> CaptureView:
    """The preview: along the photos' typical direction (``typical_photo``'s own), at the subject,
    from where some photo stood (within the survey's radius of it). Photos that look down (within
    ``NADIR_DEGREES`` of it) leave the air above them free: the view rises over the site until it
    frames the whole survey, as a pilot would climb, ``MAP_TILT_DEGREES`` off vertical. Should the
    line pass no photo near enough, the view stands on the typical photo's line to the subject."""
    index = typical_photo(capture)
    forward = capture.directions[index]
    spans = _spans_near_photos(capture, forward)
    right = capture.rights[index]
    sky = unit_vector(up)
    if float(-forward @ sky) >= math.cos(math.radians(NADIR_DEGREES)):
        # Level (image x horizontal) and tilted, so the viewer's orbit camera, which cannot roll,
        # opens on the same view; the site's long side along the width.
        right = _longest_across(framed, sky)
        ahead = np.cross(sky, right)
        tilt = math.radians(MAP_TILT_DEGREES)
        forward = -math.cos(tilt) * sky + math.sin(tilt) * ahead
        spans = [(1e-6, math.inf)]
    if not spans:
        return view_from_photo(capture, index, framed, size, name)
    return _view_along(capture, forward, right, framed, size, name, spans)


def _turned_towards(start: Vector, goal: Vector, most_degrees: float) -> Vector:
    """``start`` turned towards ``goal`` (both unit) by their angle, at most ``most_degrees``."""
    angle = math.acos(float(np.clip(start @ goal, -1.0, 1.0)))
    limit = math.radians(most_degrees)
    if angle <= limit:
        return goal
    across = unit_vector(goal - (goal @ start) * start)
    return math.cos(limit) * start + math.sin(limit) * across


def view_from_photo(capture: Capture, index: int, framed: Vector, size: tuple[int, int], name: str) -> CaptureView:
    """A view from photo ``index`` turned towards the subject (by at most ``MAX_TURN_DEGREES``
    from where the photo looked), framing ``framed`` (the subject's splats) from between that
    photo and up to the survey's radius nearer the subject: never behind the photo, where a
    street photo has the wall it stood against."""
    position = capture.positions[index]
    forward = _turned_towards(capture.directions[index], unit_vector(capture.subject - position), MAX_TURN_DEGREES)
    # Placed by its distance back along ``forward`` from the point abreast of the subject.
    reach = max(float((capture.subject - position) @ forward), 2e-6)
    slack = max(capture.radius, 1e-6)
    span = (max(reach - slack, 1e-6), reach)
    pivot = position + reach * forward
    return _view_along(capture, forward, capture.rights[index], framed, size, name, [span], pivot)


def typical_photo(capture: Capture) -> int:
    """The photo whose direction is closest, on average, to every photo's direction."""
    angles = np.arccos(np.clip(capture.directions @ capture.directions.T, -1.0, 1.0))
    return int(np.argmin(angles.mean(axis=1)))


def photos_around(capture: Capture, up: Vector, first: int, count: int) -> list[int]:
    """``count`` photos spread around the subject: the ones whose bearing from it (about ``up``)
    is nearest to ``first``'s turned by equal steps."""
    helper = np.eye(3)[int(np.argmin(np.abs(up)))]
    east = unit_vector(np.cross(up, helper))
    north = np.cross(up, east)
    offsets = capture.positions - capture.subject
    bearings = np.arctan2(offsets @ north, offsets @ east)
    chosen = []
    for step in range(count):
        wanted = bearings[first] + 2.0 * math.pi * step / count
        gap = np.abs(np.angle(np.exp(1j * (bearings - wanted))))
        chosen.append(int(np.argmin(gap)))
    return chosen
