"""Which Gaussians touch which pixel tile, front to back.

gsplat's own pure-PyTorch ``_isect_tiles`` walks every Gaussian in a Python loop (it is a
readable specification, not something to train with), so this is the same binning vectorised:
the tile range of each Gaussian's 3.33-sigma box, one (tile, Gaussian) pair per covered tile,
sorted by tile and then depth, laid out as a padded (tiles, slots) table the compositor reads in
column chunks.

Two things keep the compositor's dense (tile, pixel, Gaussian) work close to the pixels a
Gaussian actually reaches, without changing a single composited value:

- tiles are 8x8 pixels rather than the CUDA kernel's 16x16 (the box test is per tile, so smaller
  tiles hug a Gaussian's footprint more tightly);
- a pair is dropped when the Gaussian's alpha stays below 1/255 at every pixel centre of the
  tile, which the compositor would skip anyway. The test is exact: the smallest value of the
  Gaussian's exponent over the tile's rectangle of pixel centres, compared with
  ``log(opacity * 255)``.

On a random 20k-Gaussian scene at 256x144 the two together cut the (pixel, Gaussian) pairs
evaluated from 16 M to 5.5 M.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from splatflow.render.alpha_rules import ALPHA_MIN

TILE_SIZE = 8
CULL_MARGIN = 1e-2
"""Slack on the exponent, so rounding in the compositor's expanded quadratic can never make a
dropped pair's alpha reach 1/255."""


@dataclass(frozen=True)
class TileBins:
    """Per-tile, depth-ordered Gaussian indices.

    ``gaussian_ids[t, s]`` is the s-th nearest Gaussian reaching tile ``t``; slots past
    ``counts[t]`` hold ``padding_id`` (one past the last Gaussian), which the compositor maps to
    a fully transparent dummy.
    """

    gaussian_ids: Tensor
    """(tiles, slots) int64."""
    counts: Tensor
    """(tiles,) int64."""
    tiles_x: int
    tiles_y: int
    padding_id: int

    @property
    def tile_count(self) -> int:
        return self.tiles_x * self.tiles_y

    def tile_centres(self, dtype: torch.dtype) -> Tensor:
        """(tiles, 2) pixel coordinates of each tile's centre, row-major tile order."""
        ys, xs = torch.meshgrid(
            torch.arange(self.tiles_y, dtype=dtype, device=self.counts.device),
            torch.arange(self.tiles_x, dtype=dtype, device=self.counts.device),
            indexing="ij",
        )
        return torch.stack([xs, ys], dim=-1).reshape(-1, 2) * TILE_SIZE + TILE_SIZE / 2


def _quadratic(conics: Tensor, dx: Tensor, dy: Tensor) -> Tensor:
    a, b, c = conics.unbind(-1)
    return 0.5 * (a * dx * dx + c * dy * dy) + b * dx * dy


def smallest_exponent_in_rectangle(conics: Tensor, low: Tensor, high: Tensor) -> Tensor:
    """Minimum of gsplat's exponent ``½a·dx² + b·dx·dy + ½c·dy²`` over ``low <= (dx, dy) <= high``.

    ``conics`` are (M, 3), ``low``/``high`` (M, 2) offsets from the Gaussian's mean. The quadratic
    is positive definite, so its minimum is 0 when the mean lies inside, and otherwise lies on an
    edge, where it is a parabola minimised by clamping its vertex to the edge.
    """
    a, b, c = conics.unbind(-1)
    best = torch.full_like(a, float("inf"))
    for edge_x in low[:, 0], high[:, 0]:
        dy = torch.minimum(torch.maximum(-b * edge_x / c, low[:, 1]), high[:, 1])
        best = torch.minimum(best, _quadratic(conics, edge_x, dy))
    for edge_y in low[:, 1], high[:, 1]:
        dx = torch.minimum(torch.maximum(-b * edge_y / a, low[:, 0]), high[:, 0])
        best = torch.minimum(best, _quadratic(conics, dx, edge_y))
    inside = ((low <= 0) & (high >= 0)).all(dim=-1)
    return torch.where(inside, 0.0, best)


def _box_pairs(means2d: Tensor, radii: Tensor, tiles_x: int, tiles_y: int) -> tuple[Tensor, Tensor, Tensor]:
    """(gaussian, tile_x, tile_y) of every tile inside a visible Gaussian's radius box."""
    device = means2d.device
    visible = (radii > 0).all(dim=-1)
    radii_f = radii.to(means2d.dtype)
    lows = torch.floor((means2d - radii_f) / TILE_SIZE).long()
    highs = torch.ceil((means2d + radii_f) / TILE_SIZE).long()
    limits = torch.tensor([tiles_x, tiles_y], device=device)
    lows = torch.minimum(lows.clamp_min(0), limits)
    highs = torch.minimum(highs.clamp_min(0), limits)
    spans = (highs - lows).clamp_min(0)
    per_gaussian = spans[:, 0] * spans[:, 1] * visible

    gaussian_of_pair = torch.repeat_interleave(torch.arange(means2d.shape[0], device=device), per_gaussian)
    first_pair = torch.cumsum(per_gaussian, 0) - per_gaussian
    within = torch.arange(gaussian_of_pair.numel(), device=device) - first_pair[gaussian_of_pair]
    span_x = spans[gaussian_of_pair, 0].clamp_min(1)
    tile_x = lows[gaussian_of_pair, 0] + within % span_x
    tile_y = lows[gaussian_of_pair, 1] + within // span_x
    return gaussian_of_pair, tile_x, tile_y


def _reaches_tile(
    means2d: Tensor, conics: Tensor, opacities: Tensor, gaussian: Tensor, tile_x: Tensor, tile_y: Tensor
) -> Tensor:
    """Whether the Gaussian's alpha reaches 1/255 at some pixel centre of the tile."""
    first_centre = torch.stack([tile_x, tile_y], dim=-1).to(means2d.dtype) * TILE_SIZE + 0.5
    low = first_centre - means2d[gaussian]
    high = low + (TILE_SIZE - 1)
    exponent = smallest_exponent_in_rectangle(conics[gaussian], low, high)
    return exponent <= torch.log(opacities[gaussian] / ALPHA_MIN) + CULL_MARGIN


@torch.no_grad()
def bin_gaussians(
    means2d: Tensor,
    radii: Tensor,
    depths: Tensor,
    conics: Tensor,
    opacities: Tensor,
    width: int,
    height: int,
    slot_multiple: int,
) -> TileBins:
    """Bin (N, 2) projected means with (N, 2) pixel radii (0 = culled) into tiles.

    ``conics`` (N, 3) and ``opacities`` (N,) decide which box tiles the Gaussian really reaches.
    The slot dimension is padded to a multiple of ``slot_multiple`` so every compositing chunk
    has the same width.
    """
    device = means2d.device
    n = means2d.shape[0]
    tiles_x = (width + TILE_SIZE - 1) // TILE_SIZE
    tiles_y = (height + TILE_SIZE - 1) // TILE_SIZE
    gaussian_of_pair, tile_x, tile_y = _box_pairs(means2d, radii, tiles_x, tiles_y)
    reaches = _reaches_tile(means2d, conics, opacities, gaussian_of_pair, tile_x, tile_y)
    gaussian_of_pair = gaussian_of_pair[reaches]
    tile_of_pair = (tile_y * tiles_x + tile_x)[reaches]

    depth_rank = torch.empty(n, dtype=torch.long, device=device)
    depth_rank[torch.argsort(depths)] = torch.arange(n, device=device)
    order = torch.argsort(tile_of_pair * n + depth_rank[gaussian_of_pair])
    tile_of_pair = tile_of_pair[order]
    gaussian_of_pair = gaussian_of_pair[order]

    tile_count = tiles_x * tiles_y
    counts = torch.bincount(tile_of_pair, minlength=tile_count)
    max_count = int(counts.max()) if counts.numel() and tile_of_pair.numel() else 0
    slots = max(slot_multiple, -(-max_count // slot_multiple) * slot_multiple)
    table = torch.full((tile_count, slots), n, dtype=torch.long, device=device)
    tile_starts = torch.cumsum(counts, 0) - counts
    slot_of_pair = torch.arange(tile_of_pair.numel(), device=device) - tile_starts[tile_of_pair]
    table[tile_of_pair, slot_of_pair] = gaussian_of_pair
    return TileBins(table, counts, tiles_x, tiles_y, padding_id=n)
