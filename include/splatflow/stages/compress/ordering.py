"""Texel order: a self-organising 2D sort in the spirit of PLAS (Self-Organizing Gaussians).

SOG stores splat ``i`` in texel ``i`` of row-major textures, and lossless WebP predicts each
texel from its left and upper neighbours. The more alike neighbouring splats are in *both*
directions, the smaller every texture gets. A 1-D Morton order (the reference encoder's) is
only coherent along rows; this sort arranges splats so that the 2-D grid is smooth.

The algorithm, fully vectorised over the grid (Python loops only over sort rounds):

1. Start from a coarse 2-D layout: splats sorted by their first principal feature axis into
   rows, each row sorted by the second axis (cheap and already roughly smooth).
2. For a shrinking radius: blur the grid's features with a box filter of that radius (the
   "target"), split the grid into blocks of about that size, group each block's cells at
   random in fours, and give every group the best of its 24 permutations, i.e. the one that
   brings each feature vector closest to the blurred target of its cell. Each step can only
   lower the distance to the target, so the grid settles into smooth neighbourhoods.

The grid holds exactly ``count`` cells in ``ceil(count / width)`` rows; the empty tail of the
last row is never swapped, so texel order stays dense.
"""

from __future__ import annotations

import itertools
import logging
import math

import numpy as np
import numpy.typing as npt
import torch

log = logging.getLogger(__name__)

Int64 = npt.NDArray[np.int64]

_PERMUTATIONS = torch.tensor(list(itertools.permutations(range(4))), dtype=torch.int64)
"""The 24 ways to rearrange a group of four cells."""


def _principal_layout(features: torch.Tensor, width: int) -> torch.Tensor:
    """Initial order: rows by the first principal axis, each row by the second."""
    centred = features - features.mean(dim=0)
    sample = centred[torch.randperm(len(centred))[:100_000]]
    _, _, v = torch.linalg.svd(sample, full_matrices=False)
    axes = centred @ v[:2].T
    by_first = torch.argsort(axes[:, 0], stable=True)
    rows = math.ceil(len(features) / width)
    padded = torch.full((rows * width,), -1, dtype=torch.int64)
    padded[: len(by_first)] = by_first
    grid = padded.view(rows, width)
    second = torch.where(grid >= 0, axes[grid.clamp(min=0), 1], torch.inf)
    within = torch.argsort(second, dim=1, stable=True)
    return torch.gather(grid, 1, within).reshape(-1)[: len(features)]


def _box_blur(grid: torch.Tensor, radius: int) -> torch.Tensor:
    """Mean over a (2r+1)^2 window clipped to the grid (separable, via cumulative sums)."""
    out = grid
    for dim in (0, 1):
        size = out.shape[dim]
        padded = torch.cumsum(out, dim=dim)
        zero = torch.zeros_like(padded.narrow(dim, 0, 1))
        padded = torch.cat([zero, padded], dim=dim)
        index = torch.arange(size)
        hi = (index + radius + 1).clamp(max=size)
        lo = (index - radius).clamp(min=0)
        shape = [1, 1, 1]
        shape[dim] = size
        window = (hi - lo).to(out.dtype).view(shape)
        out = (padded.index_select(dim, hi) - padded.index_select(dim, lo)) / window
    return out


def _random_groups(rows: int, width: int, count: int, block: int, generator: torch.Generator) -> torch.Tensor:
    """Cells grouped in fours, each group (almost always) inside one ``block``-sized tile.

    Cells are sorted by (tile, random key) and cut into consecutive fours; the tiling is
    shifted at random each round so tile borders move. Cells past ``count`` are excluded.
    """
    y = torch.arange(rows).repeat_interleave(width)[:count]
    x = torch.arange(width).repeat(rows)[:count]
    offset = torch.randint(0, block, (2,), generator=generator)
    tiles_across = (width + block) // block + 1
    tile = ((y + offset[0]) // block) * tiles_across + (x + offset[1]) // block
    key = tile * count + torch.randperm(count, generator=generator)
    order = torch.argsort(key)
    usable = (count // 4) * 4
    return order[:usable].view(-1, 4)


def _improve_groups(cells: torch.Tensor, features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """For each group of four cells, the contents rearranged to best match the target.

    ``features[cells]`` holds what sits in the cells now and ``target[cells]`` what each cell
    wants. Minimising the summed squared distance over the 24 permutations is maximising the
    summed dot product of content and target (the squared norms do not depend on the order).
    """
    content = features[cells]
    wanted = target[cells]
    affinity = torch.einsum("gic,gjc->gij", content, wanted)
    # score[g, p] = sum_j affinity[g, perm[p][j], j]: content perm[p][j] moves to cell j.
    perms = _PERMUTATIONS
    score = affinity[:, perms, torch.arange(4)].sum(dim=-1)
    best = perms[score.argmax(dim=1)]
    return torch.gather(cells, 1, best)


def self_organising_order(
    features: npt.NDArray[np.float32],
    width: int,
    rounds_per_radius: int = 1,
    seed: int = 0,
    initial: Int64 | None = None,
    start_radius: float | None = None,
) -> Int64:
    """A texel order (``order[i]`` = the splat stored in texel ``i``) with smooth neighbourhoods.

    ``features`` (N, C) should be scaled so that equal distances matter equally.
    """
    count = len(features)
    if count < 8:
        return np.arange(count, dtype=np.int64)
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    values = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32))
    rows = math.ceil(count / width)
    order = _principal_layout(values, width) if initial is None else torch.from_numpy(initial)
    radius = start_radius or max(1.0, max(rows, width) / 8)
    while True:
        step_radius = max(1, round(radius))
        for _ in range(rounds_per_radius):
            grid = torch.zeros(rows * width, values.shape[1])
            grid[:count] = values[order]
            blurred = _box_blur(grid.view(rows, width, -1), step_radius).reshape(rows * width, -1)
            cells = _random_groups(rows, width, count, max(2, 2 * step_radius), generator)
            new_cells = _improve_groups(cells, values[order], blurred[:count])
            # The content of cell new_cells[g, j] moves to cell cells[g, j].
            moved = order.clone()
            moved[cells.reshape(-1)] = order[new_cells.reshape(-1)]
            order = moved
        if step_radius == 1:
            break
        radius *= 0.8
    return order.numpy().astype(np.int64)
