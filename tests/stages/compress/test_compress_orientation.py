"""Canonical orientation: the same Gaussians, axes largest first, w the largest component."""

from __future__ import annotations

import numpy as np
import pytest

from splatflow.stages.compress.orientation import canonical_orientation, quaternion_product, rotation_matrices


def test_covariances_are_unchanged(make_random_splats, covariances):
    splats = make_random_splats(5000, 0, seed=11)
    scales, quats = canonical_orientation(splats.scales, splats.quats)
    np.testing.assert_allclose(
        covariances(scales, quats), covariances(splats.scales, splats.quats), rtol=1e-4, atol=1e-7
    )


def test_axes_are_ordered_largest_first_and_w_is_the_largest_positive_component(make_random_splats):
    splats = make_random_splats(5000, 0, seed=12)
    scales, quats = canonical_orientation(splats.scales, splats.quats)
    assert np.all(np.diff(scales, axis=1) <= 0)
    np.testing.assert_array_equal(np.sort(scales, axis=1), np.sort(splats.scales, axis=1))
    assert np.all(np.abs(quats).argmax(axis=1) == 0) and np.all(quats[:, 0] > 0)
    np.testing.assert_allclose(np.linalg.norm(quats, axis=1), 1.0, atol=1e-6)


@pytest.mark.parametrize(
    ("scales", "quat"),
    [
        ([-1.0, -2.0, -3.0], [1.0, 0.0, 0.0, 0.0]),  # already canonical: kept as it is
        ([-3.0, -1.0, -2.0], [0.0, 0.0, 0.0, 0.0]),  # a zero quaternion reads as the identity
        ([-2.0, -2.0, -2.0], [0.2, 0.9, -0.3, 0.1]),  # a sphere: any rotation is the same splat
    ],
)
def test_special_cases_keep_their_shape(covariances, scales, quat):
    s, q = np.array([scales], np.float32), np.array([quat], np.float32)
    new_scales, new_quats = canonical_orientation(s, q)
    reference = np.array([[1.0, 0, 0, 0]], np.float32) if not np.any(q) else q
    np.testing.assert_allclose(covariances(new_scales, new_quats), covariances(s, reference), rtol=1e-5, atol=1e-9)
    if scales == [-1.0, -2.0, -3.0]:
        np.testing.assert_allclose(new_quats, q, atol=1e-7)


def test_quaternion_product_composes_rotations():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 50, 4))
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    b /= np.linalg.norm(b, axis=1, keepdims=True)
    np.testing.assert_allclose(
        rotation_matrices(quaternion_product(a, b)), rotation_matrices(a) @ rotation_matrices(b), atol=1e-12
    )
