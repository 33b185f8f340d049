"""Which Gaussians touch which 16x16 pixel tile, front to back.

gsplat's own pure-PyTorch ``_isect_tiles`` walks every Gaussian in a Python loop (it is a
readable specification, not something to train with), so this is the same binning vectorised:
the tile range of each Gaussian's 3-sigma box, one (tile, Gaussian) pair per covered tile,
sorted by tile and then depth, laid out as a padded (tiles, slots) table the compositor reads in
column chunks.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

TILE_SIZE = 16


@dataclass(frozen=True)
class TileBins:
    """Per-tile, depth-ordered Gaussian indices.

    ``gaussian_ids[t, s]`` is the s-th nearest Gaussian touching tile ``t``; slots past
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


@torch.no_grad()
def bin_gaussians(
    means2d: Tensor, radii: Tensor, depths: Tensor, width: int, height: int, slot_multiple: int
) -> TileBins:
    """Bin (N, 2) projected means with (N, 2) pixel radii (0 = culled) into tiles.

    The slot dimension is padded to a multiple of ``slot_multiple`` so every compositing chunk
    has the same width.
    """
    device = means2d.device
    n = means2d.shape[0]
    tiles_x = (width + TILE_SIZE - 1) // TILE_SIZE
    tiles_y = (height + TILE_SIZE - 1) // TILE_SIZE
    visible = (radii > 0).all(dim=-1)
    radii_f = radii.to(means2d.dtype)
    lows = torch.floor((means2d - radii_f) / TILE_SIZE).long()
    highs = torch.ceil((means2d + radii_f) / TILE_SIZE).long()
    limits = torch.tensor([tiles_x, tiles_y], device=device)
    lows = torch.minimum(lows.clamp_min(0), limits)
    highs = torch.minimum(highs.clamp_min(0), limits)
    spans = (highs - lows).clamp_min(0)
    per_gaussian = spans[:, 0] * spans[:, 1] * visible

    gaussian_of_pair = torch.repeat_interleave(torch.arange(n, device=device), per_gaussian)
    first_pair = torch.cumsum(per_gaussian, 0) - per_gaussian
    within = torch.arange(gaussian_of_pair.numel(), device=device) - first_pair[gaussian_of_pair]
    span_x = spans[gaussian_of_pair, 0]
    tile_x = lows[gaussian_of_pair, 0] + within % span_x.clamp_min(1)
    tile_y = lows[gaussian_of_pair, 1] + within // span_x.clamp_min(1)
    tile_of_pair = tile_y * tiles_x + tile_x

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
