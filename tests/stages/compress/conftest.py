"""Scenes shared by the compression tests."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic_scene import synthetic_scene

from splatflow.formats.ply import Splats, sh_rest_count
from splatflow.stages.compress.orientation import rotation_matrices


def random_splats(count: int, degree: int, seed: int = 0) -> Splats:
    """Unstructured splats: every attribute independent, the hardest case for codebooks."""
    rng = np.random.default_rng(seed)
    k = sh_rest_count(degree)
    return Splats(
        means=rng.normal(scale=5, size=(count, 3)).astype(np.float32),
        scales=rng.normal(-3, 1, size=(count, 3)).astype(np.float32),
        quats=rng.normal(size=(count, 4)).astype(np.float32),
        opacities=rng.normal(0, 3, size=count).astype(np.float32),
        sh_dc=rng.normal(scale=1.2, size=(count, 3)).astype(np.float32),
        sh_rest=rng.normal(scale=0.1, size=(count, k, 3)).astype(np.float32),
    )


@pytest.fixture(scope="session")
def make_random_splats():
    return random_splats


def gaussian_covariances(log_scales: np.ndarray, quats: np.ndarray) -> np.ndarray:
    """(N, 3, 3) covariance R diag(s)^2 R^T: what a splat's shape is, whatever its parameters."""
    q = quats.astype(np.float64) / np.linalg.norm(quats.astype(np.float64), axis=1, keepdims=True)
    rotation = rotation_matrices(q) * np.exp(log_scales.astype(np.float64))[:, None, :]
    return rotation @ rotation.transpose(0, 2, 1)


@pytest.fixture(scope="session")
def covariances():
    return gaussian_covariances


@pytest.fixture(scope="session")
def scene_sh3() -> Splats:
    """A 3000-splat scene with a trained scene's structure (SH degree 3)."""
    return synthetic_scene(3000, sh_degree=3, seed=7)
