"""The self-organising texel order: a permutation that makes grid neighbours alike."""

from __future__ import annotations

import numpy as np

from splatflow.formats.sog_codec import texture_size
from splatflow.stages.compress.encoder import morton_order
from splatflow.stages.compress.ordering import self_organising_order


def neighbour_distance(features: np.ndarray, order: np.ndarray, width: int) -> float:
    rows = len(order) // width
    grid = features[order][: rows * width].reshape(rows, width, -1)
    across = np.linalg.norm(grid[:, 1:] - grid[:, :-1], axis=-1).mean()
    down = np.linalg.norm(grid[1:] - grid[:-1], axis=-1).mean()
    return float(across + down)


def test_order_is_a_permutation_for_a_ragged_last_row():
    features = np.random.default_rng(0).normal(size=(1237, 5)).astype(np.float32)
    width, _ = texture_size(1237)
    order = self_organising_order(features, width)
    assert sorted(order.tolist()) == list(range(1237))


def test_sorted_grid_neighbours_are_closer_than_random_and_morton_ones():
    rng = np.random.default_rng(1)
    points = rng.uniform(-10, 10, size=(6000, 3)).astype(np.float32)
    width, _ = texture_size(6000)
    sorted_distance = neighbour_distance(points, self_organising_order(points, width), width)
    assert sorted_distance < 0.3 * neighbour_distance(points, rng.permutation(6000), width)
    assert sorted_distance < neighbour_distance(points, morton_order(points), width)


def test_tiny_inputs_keep_their_order():
    features = np.zeros((5, 3), np.float32)
    assert self_organising_order(features, 4).tolist() == [0, 1, 2, 3, 4]
