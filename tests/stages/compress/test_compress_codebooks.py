"""Codebooks and the SH palette: sized as asked, exact when they can be, better when larger."""

from __future__ import annotations

import numpy as np

from splatflow.stages.compress.codebooks import scalar_codebook, sh_palette


def test_scalar_codebook_is_sorted_with_256_entries():
    values = np.random.default_rng(0).standard_t(3, size=50_000)
    codebook = scalar_codebook(values)
    assert codebook.shape == (256,) and np.all(np.diff(codebook) >= 0)
    assert codebook[0] >= np.float32(values.min()) and codebook[-1] <= np.float32(values.max())


def test_scalar_codebook_keeps_few_distinct_values_exactly():
    values = np.array([-1.5, 0.25, 3.0] * 100, np.float32)
    codebook = scalar_codebook(values)
    assert set(codebook.tolist()) == {-1.5, 0.25, 3.0}


def test_scalar_codebook_of_a_constant_is_that_constant():
    assert set(scalar_codebook(np.full(10, 2.5)).tolist()) == {2.5}


def test_scalar_codebook_beats_a_uniform_grid_on_heavy_tails():
    values = np.random.default_rng(1).standard_t(2, size=100_000)
    uniform = np.linspace(values.min(), values.max(), 256)

    def rmse(codebook: np.ndarray) -> float:
        return float(np.sqrt(np.mean(np.min(np.abs(values[:, None] - codebook[None]), axis=1) ** 2)))

    assert rmse(scalar_codebook(values)) < 0.5 * rmse(uniform)


def test_scalar_codebook_serves_a_sparse_tail_like_a_trained_scenes_largest_splats():
    # A trained scene's log-scales: a dense bulk, and a few huge and a few tiny splats. The
    # huge ones cover the most pixels, so their error must stay small too (a Lloyd k-means from
    # a quantile start left it at 0.79 here).
    rng = np.random.default_rng(2)
    values = np.concatenate([rng.normal(-1.7, 1.0, 200_000), rng.uniform(2.0, 4.6, 80), rng.uniform(-9, -6, 60)])
    codebook = scalar_codebook(values)
    error = np.min(np.abs(values[:, None] - codebook[None]), axis=1)
    assert error.max() < 0.15
    assert np.sqrt(np.mean(error**2)) < 0.01


def test_palette_is_exact_when_it_can_hold_every_vector():
    vectors = np.random.default_rng(3).normal(size=(50, 9)).astype(np.float32)
    palette = sh_palette(vectors, 64)
    np.testing.assert_array_equal(palette.centroids[palette.labels], vectors)


def test_palette_respects_its_size_and_improves_with_it():
    vectors = np.random.default_rng(4).normal(size=(20_000, 9)).astype(np.float32)

    def error(size: int) -> float:
        palette = sh_palette(vectors, size)
        assert len(palette.centroids) <= size
        assert palette.labels.min() >= 0 and palette.labels.max() < len(palette.centroids)
        return float(np.mean((palette.centroids[palette.labels] - vectors) ** 2))

    assert error(4096) < error(256) < error(16)
