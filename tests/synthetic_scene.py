"""A synthetic scene with a trained scene's statistics, for the tests and the benchmarks
(``bench/compress.py`` and ``bench/viewer.py`` put this folder on their path).

Random splats are the worst case for every compressor (no neighbour resembles another), so
they say little about real output sizes. This scene is built like a drone capture: splats on
a height-field ground and a few building blocks, colours and SH varying smoothly over the
surfaces with per-splat noise, log-normal scales, mostly opaque with a transparent tail.
"""

from __future__ import annotations

import numpy as np

from splatflow.formats.ply import Splats, sh_rest_count

SH_C0 = 0.28209479177387814


def _smooth_field(points: np.ndarray, rng: np.random.Generator, channels: int, waves: int = 6) -> np.ndarray:
    """A sum of random plane waves over 3-D points: smooth, scene-scale variation."""
    frequencies = rng.normal(scale=0.15, size=(waves, 3))
    phases = rng.uniform(0, 2 * np.pi, size=waves)
    amplitudes = rng.normal(size=(waves, channels)) / np.sqrt(waves)
    return np.sin(points @ frequencies.T + phases) @ amplitudes


def synthetic_scene(count: int, sh_degree: int = 3, seed: int = 0) -> Splats:
    """``count`` splats of a drone-like scene (ground and building blocks), the same for the same seed."""
    rng = np.random.default_rng(seed)
    on_ground = rng.random(count) < 0.6
    ground = rng.uniform(-40, 40, size=(count, 3))
    ground[:, 2] = 2 * np.sin(ground[:, 0] / 9) * np.cos(ground[:, 1] / 7)
    # Building blocks: points on the faces of 12 boxes.
    centres = rng.uniform(-30, 30, size=(12, 3)) * np.array([1, 1, 0]) + np.array([0, 0, 5])
    sizes = rng.uniform(2, 8, size=(12, 3))
    block = rng.integers(0, 12, count)
    local = rng.uniform(-1, 1, size=(count, 3))
    face_axis = rng.integers(0, 3, count)
    local[np.arange(count), face_axis] = np.sign(local[np.arange(count), face_axis])
    buildings = centres[block] + local * sizes[block]
    means = np.where(on_ground[:, None], ground, buildings) + rng.normal(scale=0.05, size=(count, 3))

    albedo = 0.5 + 0.25 * _smooth_field(means, rng, 3) + rng.normal(scale=0.05, size=(count, 3))
    sh_dc = (np.clip(albedo, 0, 1) - 0.5) / SH_C0
    scales = np.log(0.08) + 0.4 * _smooth_field(means, rng, 3) + rng.normal(scale=0.5, size=(count, 3))
    opacities = np.where(rng.random(count) < 0.8, rng.normal(3.0, 1.5, count), rng.normal(-2.0, 2.0, count))
    quats = rng.normal(size=(count, 4))
    k = sh_rest_count(sh_degree)
    band = np.floor(np.sqrt(np.arange(1, k + 1))).astype(np.float64)
    view_dependence = 0.15 * _smooth_field(means, rng, 3 * k).reshape(count, k, 3)
    sh_rest = (view_dependence + rng.normal(scale=0.03, size=(count, k, 3))) / band[None, :, None]
    return Splats(
        means=means.astype(np.float32),
        scales=scales.astype(np.float32),
        quats=quats.astype(np.float32),
        opacities=opacities.astype(np.float32),
        sh_dc=sh_dc.astype(np.float32),
        sh_rest=sh_rest.astype(np.float32),
    )
