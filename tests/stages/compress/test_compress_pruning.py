"""Pruning: the least significant splats go, the rest keep their order, bad fractions fail."""

from __future__ import annotations

import numpy as np
import pytest

from splatflow.stages.compress.pruning import prune_least_significant, significance


def test_significance_is_opacity_times_the_largest_extent_squared(make_random_splats):
    splats = make_random_splats(4, 0, seed=1)
    splats.opacities[:] = [0.0, 0.0, 100.0, -100.0]
    splats.scales[:] = np.log([[1.0, 1.0, 1.0], [3.0, 1.0, 1.0], [1.0, 2.0, 1.0], [9.0, 9.0, 9.0]])
    np.testing.assert_allclose(significance(splats), [0.5, 4.5, 4.0, 81.0 / (1 + np.exp(100.0))], rtol=1e-6)


def test_drops_the_least_significant_and_keeps_the_input_order(make_random_splats):
    splats = make_random_splats(1000, 1, seed=2)
    kept, dropped = prune_least_significant(splats, 0.1)
    assert dropped == 100 and kept.count == 900
    scores = significance(splats)
    threshold = np.sort(scores)[100]
    survivors = np.flatnonzero(scores >= threshold)
    np.testing.assert_array_equal(kept.means, splats.means[survivors])
    np.testing.assert_array_equal(kept.sh_rest, splats.sh_rest[survivors])


def test_zero_fraction_keeps_everything_and_one_splat_always_stays(make_random_splats):
    splats = make_random_splats(3, 0, seed=3)
    assert prune_least_significant(splats, 0.0) == (splats, 0)
    kept, dropped = prune_least_significant(splats, 0.99)
    assert (kept.count, dropped) == (1, 2)
    assert significance(kept)[0] == significance(splats).max()


@pytest.mark.parametrize("fraction", [-0.1, 1.0, 1.5, float("nan")])
def test_fraction_outside_zero_to_one_is_refused(make_random_splats, fraction):
    with pytest.raises(ValueError, match="prune_fraction must be at least 0 and below 1"):
        prune_least_significant(make_random_splats(10, 0), fraction)
