"""A scene whose floaters are known: a ground patch every photo sees, an environment sphere 2 km
out (sky above the horizon) that fills every pixel the ground does not, and three kinds of
splat no photo shows as its surface, photographed from above, from a ring and from low down:

- ``ground``: opaque green splats 0.75 m apart on a 30 x 30 m patch (z = 0), all in the top photo;
- ``environment``: opaque sky-blue splats on a sphere 2 km out, 0.1 rad apart, so no pixel is empty;
- ``haze``: faint small white splats in mid-air, 12 to 17 m over the patch (the photos look through
  them at the ground or the sky, from 20 to 35 m up or from the ground);
- ``near_camera``: faint splats 3 m in front of each ring photo, in front of what it shows;
- ``hidden``: opaque splats 1.5 m under the middle of the patch, which every photo's view of the
  ground covers.

Cameras follow ``formats.cameras`` (OpenCV: x right, y down, z forward), z up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from synthetic_captures import camera_looking, in_frame

from splatflow.formats.cameras import Camera
from splatflow.formats.ply import Splats

ENVIRONMENT_DISTANCE = 2000.0
OPAQUE, FAINT = 3.0, -3.0
"""Opacity logits: 0.95 and 0.05."""


SH_C0 = 0.28209479177387814
"""Degree-0 SH constant: a splat's colour is 0.5 + SH_C0 * sh_dc."""


def splats_at(
    means: npt.NDArray[np.float64], scale: float, opacity_logit: float, colour: npt.ArrayLike = (0.5, 0.5, 0.5)
) -> Splats:
    """Round splats of one ``scale`` and opacity at ``means``, of ``colour`` (RGB, or one per splat)."""
    count = len(means)
    rgb = np.broadcast_to(np.asarray(colour, dtype=np.float64), (count, 3))
    return Splats(
        means=means.astype(np.float32),
        scales=np.full((count, 3), math.log(scale), np.float32),
        quats=np.tile(np.array([1, 0, 0, 0], np.float32), (count, 1)),
        opacities=np.full(count, opacity_logit, np.float32),
        sh_dc=((rgb - 0.5) / SH_C0).astype(np.float32),
        sh_rest=np.zeros((count, 0, 3), np.float32),
    )


def joined(parts: list[Splats]) -> Splats:
    return Splats(
        means=np.concatenate([p.means for p in parts]),
        scales=np.concatenate([p.scales for p in parts]),
        quats=np.concatenate([p.quats for p in parts]),
        opacities=np.concatenate([p.opacities for p in parts]),
        sh_dc=np.concatenate([p.sh_dc for p in parts]),
        sh_rest=np.concatenate([p.sh_rest for p in parts]),
    )


def photos() -> list[Camera]:
    """One photo from 35 m straight down, six from a ring 25 m out and 20 m up looking at the
    middle, four from 3 m up, 25 m out, looking at the middle with the horizon in frame."""
    cameras = [camera_looking(np.array([0.0, 0.0, 35.0]), np.array([0.0, 0.0, -1.0]), "top.jpg")]
    for height, count, name in ((20.0, 6, "ring"), (3.0, 4, "low")):
        for i in range(count):
            angle = 2 * math.pi * (i + (0.5 if name == "low" else 0.0)) / count
            position = np.array([25.0 * math.cos(angle), 25.0 * math.sin(angle), height])
            cameras.append(camera_looking(position, -position, f"{name}_{i}.jpg"))
    return cameras


def environment_points(rng: np.random.Generator) -> npt.NDArray[np.float64]:
    rows = []
    for elevation in np.arange(-math.pi / 2 + 0.05, math.pi / 2, 0.1):
        count = max(1, int(2 * math.pi * math.cos(elevation) / 0.1))
        bearing = np.arange(count) * 2 * math.pi / count + rng.uniform(0, 1)
        across = math.cos(elevation)
        ring = [np.cos(bearing) * across, np.sin(bearing) * across, np.full(count, math.sin(elevation))]
        rows.append(ENVIRONMENT_DISTANCE * np.stack(ring, axis=1))
    return np.concatenate(rows)


@dataclass(frozen=True)
class FloaterScene:
    splats: Splats
    photos: list[Camera]
    parts: dict[str, npt.NDArray[np.bool_]]
    """Which splats are ``ground``, ``environment``, ``haze``, ``near_camera``, ``hidden``."""

    @property
    def floaters(self) -> npt.NDArray[np.bool_]:
        return self.parts["haze"] | self.parts["near_camera"] | self.parts["hidden"]

    @property
    def sky_in_view(self) -> npt.NDArray[np.bool_]:
        """The environment splats above the horizon whose centre some photo has in frame."""
        seen = np.zeros(self.splats.count, dtype=bool)
        for photo in self.photos:
            seen |= in_frame(photo, self.splats.means.astype(np.float64))
        return self.parts["environment"] & seen & (self.splats.means[:, 2] > 0)


def floater_scene(seed: int = 0) -> FloaterScene:
    rng = np.random.default_rng(seed)
    steps = np.linspace(-15.0, 15.0, 41)
    x, y = np.meshgrid(steps, steps)
    ground = np.stack([x.ravel(), y.ravel(), np.zeros(x.size)], axis=1)
    haze = np.column_stack([rng.uniform(-12, 12, (60, 2)), rng.uniform(12, 17, 60)])
    cameras = photos()
    rings = [c for c in cameras if c.name.startswith("ring")]
    near_camera = np.stack(
        [-c.view_matrix()[:3, :3].T @ c.view_matrix()[:3, 3] + 3.0 * c.view_matrix()[2, :3] for c in rings]
    )
    hidden = np.column_stack([rng.uniform(-5, 5, (30, 2)), np.full(30, -1.5)])
    groups = {
        "ground": splats_at(ground, 0.5, OPAQUE, rng.uniform([0.2, 0.4, 0.1], [0.5, 0.7, 0.3], (len(ground), 3))),
        "environment": splats_at(environment_points(rng), 120.0, OPAQUE, (0.55, 0.7, 0.9)),
        "haze": splats_at(haze, 0.3, FAINT, (0.9, 0.9, 0.9)),
        "near_camera": splats_at(near_camera, 0.3, FAINT, (0.9, 0.9, 0.9)),
        "hidden": splats_at(hidden, 0.3, OPAQUE, (0.4, 0.3, 0.2)),
    }
    labels = np.concatenate([np.full(part.count, index) for index, part in enumerate(groups.values())])
    parts = {name: labels == index for index, name in enumerate(groups)}
    return FloaterScene(joined(list(groups.values())), cameras, parts)
