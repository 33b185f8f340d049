"""Binning drops only (tile, Gaussian) pairs whose alpha stays below 1/255 on the whole tile."""

from __future__ import annotations

import torch

from splatflow.render.tiles import TILE_SIZE, bin_gaussians, smallest_exponent_in_rectangle


def test_smallest_exponent_in_rectangle_matches_a_dense_search():
    generator = torch.Generator().manual_seed(0)
    count = 500
    axes = torch.rand(count, 2, generator=generator, dtype=torch.float64) * 3 + 0.1
    angle = torch.rand(count, generator=generator, dtype=torch.float64) * torch.pi
    cos, sin = torch.cos(angle), torch.sin(angle)
    # conic = R diag(1/axes²) Rᵀ, stored as (a, b, c)
    inverse = 1 / axes**2
    conics = torch.stack(
        [
            cos * cos * inverse[:, 0] + sin * sin * inverse[:, 1],
            cos * sin * (inverse[:, 0] - inverse[:, 1]),
            sin * sin * inverse[:, 0] + cos * cos * inverse[:, 1],
        ],
        dim=-1,
    )
    low = (torch.rand(count, 2, generator=generator, dtype=torch.float64) - 0.5) * 20
    high = low + torch.rand(count, 2, generator=generator, dtype=torch.float64) * 6

    exact = smallest_exponent_in_rectangle(conics, low, high)

    steps = torch.linspace(0, 1, 401, dtype=torch.float64)
    dx = low[:, 0:1, None] + (high - low)[:, 0:1, None] * steps[None, :, None]
    dy = low[:, 1:2, None] + (high - low)[:, 1:2, None] * steps[None, None, :]
    a, b, c = (v[:, None, None] for v in conics.unbind(-1))
    searched = (0.5 * (a * dx * dx + c * dy * dy) + b * dx * dy).flatten(1).min(dim=1).values
    assert (exact <= searched + 1e-12).all(), "the exact minimum can never exceed a sampled value"
    torch.testing.assert_close(exact, searched, rtol=1e-3, atol=1e-3)
    assert (exact == 0).any() and (exact > 0).any()


def test_a_thin_diagonal_gaussian_is_not_binned_to_box_corners_it_never_reaches():
    # A long, thin Gaussian along the image diagonal: its box covers a 6x6 block of tiles, but its
    # footprint only the tiles near the diagonal.
    centre = 3 * TILE_SIZE
    variance_long, variance_thin = 60.0**2, 0.5**2
    # diag(long, thin) rotated by 45 degrees
    same, cross = (variance_long + variance_thin) / 2, (variance_long - variance_thin) / 2
    covariance = torch.tensor([[same, cross], [cross, same]])
    inverse = torch.linalg.inv(covariance)
    conics = torch.stack([inverse[0, 0], inverse[0, 1], inverse[1, 1]])[None]
    means2d = torch.tensor([[centre, centre]], dtype=torch.float32)
    radius = int(3.33 * covariance[0, 0].sqrt())
    radii = torch.tensor([[radius, radius]])
    size = 6 * TILE_SIZE

    bins = bin_gaussians(means2d, radii, torch.ones(1), conics, torch.ones(1), size, size, 4)

    reached = (bins.counts > 0).reshape(bins.tiles_y, bins.tiles_x)
    assert reached.diagonal().all()
    assert not reached[0, -1] and not reached[-1, 0]
    assert reached.sum() < reached.numel() // 2
