"""Coarser levels are merged from the model (moment matching), not subsampled from it."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
from synthetic_scene import synthetic_scene

from splatflow.stages.compress.lod_levels import (
    LEVEL_RATIO,
    covariances,
    detail_levels,
    merge_groups,
    quaternions_of,
    rotations_of,
)


def test_quaternions_round_trip_through_rotations_of():
    splats = synthetic_scene(2000, sh_degree=0, seed=1)
    rotations = rotations_of(splats.quats)
    np.testing.assert_allclose(rotations_of(quaternions_of(rotations).astype(np.float32)), rotations, atol=1e-6)


def test_a_splat_alone_in_its_group_is_kept_as_it_is():
    splats = synthetic_scene(500, sh_degree=1, seed=2)
    merged = merge_groups(splats, np.arange(splats.count))
    np.testing.assert_allclose(covariances(merged), covariances(splats), atol=1e-6)
    for name in ("means", "opacities", "sh_dc", "sh_rest"):
        np.testing.assert_allclose(getattr(merged, name), getattr(splats, name), atol=1e-5, err_msg=name)


def test_two_merged_gaussians_keep_the_pairs_weighted_mean_and_spread():
    """Two equal round splats 2 m apart along x become one centred between them, whose variance
    along x is theirs plus the centres' spread (1 m^2), and unchanged across."""
    base = synthetic_scene(2, sh_degree=0, seed=3)
    pair = dataclasses.replace(
        base,
        means=np.array([[-1.0, 0, 0], [1.0, 0, 0]], np.float32),
        scales=np.full((2, 3), np.log(0.5), np.float32),
        quats=np.array([[1.0, 0, 0, 0]] * 2, np.float32),
        opacities=np.zeros(2, np.float32),
        sh_dc=np.array([[0.0, 0, 0], [1.0, 1, 1]], np.float32),
    )
    merged = merge_groups(pair, np.zeros(2, np.int64))
    assert merged.count == 1
    np.testing.assert_allclose(merged.means[0], [0, 0, 0], atol=1e-6)
    np.testing.assert_allclose(np.sort(np.diag(covariances(merged)[0])), [0.25, 0.25, 1.25], atol=1e-5)
    np.testing.assert_allclose(merged.sh_dc[0], [0.5, 0.5, 0.5], atol=1e-6)


def test_each_level_holds_about_a_quarter_of_the_one_below_and_covers_the_same_ground():
    splats = synthetic_scene(20000, sh_degree=1, seed=4)
    levels = detail_levels(splats, coarsest_splats=1000, max_levels=6)
    counts = [level.count for level in levels]
    assert counts[0] == splats.count and counts[-1] <= 1000
    for finer, coarser in itertools.pairwise(counts):
        assert finer / LEVEL_RATIO * 0.8 <= coarser <= finer / LEVEL_RATIO
    # Merged, not subsampled: a coarse level's centres are not points of the model...
    coarse = levels[-1]
    nearest = np.linalg.norm(coarse.means[:, None, :] - splats.means[None, ::7, :], axis=-1).min(axis=1)
    assert np.median(nearest) > 1e-3
    # ...and they cover what they replace: the opacity-weighted footprint of each level is the
    # model's (a blind subsample of the same count would keep about a quarter of it).
    for level in levels[1:]:
        assert 0.7 < coverage(level) / coverage(splats) < 1.05
    subsample = merge_groups(splats, np.arange(splats.count))
    keep = np.random.default_rng(0).choice(splats.count, coarse.count, replace=False)
    assert coverage(
        dataclasses.replace(subsample, **{k: getattr(subsample, k)[keep] for k in FIELDS})
    ) < 0.1 * coverage(splats)


FIELDS = ("means", "scales", "quats", "opacities", "sh_dc", "sh_rest")


def coverage(splats) -> float:
    """Sum of opacity times the area of the two largest axes."""
    alpha = 1 / (1 + np.exp(-splats.opacities.astype(np.float64)))
    ordered = np.sort(np.exp(splats.scales.astype(np.float64)), axis=1)
    return float((alpha * ordered[:, 1] * ordered[:, 2]).sum())
