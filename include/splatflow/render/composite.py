"""Front-to-back alpha compositing of binned Gaussians, with a hand-written backward.

Letting autograd record compositing keeps a dozen (pixel, Gaussian) intermediates alive for the
backward pass and walks them all back, which is what made a straightforward tile rasterizer
slow and memory-hungry on CPU. Here the forward keeps three per chunk (alpha, transmittance in
front, where alpha has a gradient: 9 bytes per evaluated pair, about 50 MB for 20k Gaussians at
256x144) and the backward applies the closed-form derivative of

    C = sum_i c_i a_i T_i + T_final * background,   T_i = prod_{j<i} (1 - a_j)

namely ``dC/da_i = c_i T_i - (C - prefix_i) / (1 - a_i)`` with ``prefix_i`` the colour
composited up to and including ``i``.

Every (pixel, Gaussian) element costs a pass over memory per tensor operation, so the
arithmetic is arranged for few passes:

- the log of a Gaussian's raw alpha, ``log(opacity) - sigma``, is a bilinear form of six
  per-pixel features and six per-(tile, Gaussian) coefficients, so a whole chunk of it is one
  batched matrix product, and so are its gradients;
- transmittance is carried as a log, and the running products and sums along a chunk are
  matrix products with a triangular matrix of ones instead of ``cumprod``/``cumsum`` scans.

Alpha rules follow gsplat's CUDA kernel (see ``alpha_rules``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from splatflow.render.alpha_rules import ALPHA_MAX, ALPHA_MIN, TRANSMITTANCE_MIN
from splatflow.render.tiles import TILE_SIZE

__all__ = ["ALPHA_MAX", "ALPHA_MIN", "TRANSMITTANCE_MIN", "composite_tiles", "log_alpha_coefficients"]

PIXELS_PER_TILE = TILE_SIZE * TILE_SIZE
LOG_TRANSMITTANCE_MIN = math.log(TRANSMITTANCE_MIN)
LOG_ALPHA_FLOOR = math.log(ALPHA_MIN) - 1.0
LOG_TRANSMITTANCE_FLOOR = LOG_TRANSMITTANCE_MIN - 1.0
"""Floors for exp() arguments whose results are discarded (see ``_chunk_weights``)."""


def output_buffer(shape: tuple[int, ...], like: Tensor) -> Tensor:
    """Uninitialised memory for a rendered image, like a GPU kernel's output.

    Kept as a named hook so tests can poison it and prove every pixel is written.
    """
    return torch.empty(shape, dtype=like.dtype, device=like.device)


def pixel_features(dtype: torch.dtype, device: torch.device) -> Tensor:
    """(P, 6) ``[x², xy, y², x, y, 1]`` of pixel centres relative to their tile's centre.

    Tile-local coordinates keep the terms of the expanded quadratic small, so float32 loses
    little to cancellation.
    """
    offsets = torch.arange(TILE_SIZE, dtype=dtype, device=device) + 0.5 - TILE_SIZE / 2
    y, x = torch.meshgrid(offsets, offsets, indexing="ij")
    x, y = x.reshape(-1), y.reshape(-1)
    return torch.stack([x * x, x * y, y * y, x, y, torch.ones_like(x)], dim=-1)


def log_alpha_coefficients(local_means: Tensor, conics: Tensor, opacities: Tensor) -> Tensor:
    """(..., 6) coefficients so that ``features @ coefficients`` is ``log(opacity) - sigma``.

    ``sigma = ½a·dx² + b·dx·dy + ½c·dy²`` (gsplat's exponent) with ``dx = x - mx``, expanded over
    the features ``[x², xy, y², x, y, 1]``. A zero opacity becomes the log of the smallest
    normal float, whose alpha is skipped like any below 1/255, and whose gradient is zero
    rather than NaN. Plain tensor arithmetic, so autograd carries it back to the projected
    means, conics and opacities.
    """
    mx, my = local_means.unbind(-1)
    a, b, c = conics.unbind(-1)
    log_opacities = torch.log(opacities.clamp_min(torch.finfo(opacities.dtype).tiny))
    return torch.stack(
        [
            -0.5 * a,
            -b,
            -0.5 * c,
            a * mx + b * my,
            b * mx + c * my,
            log_opacities - (0.5 * a * mx * mx + b * mx * my + 0.5 * c * my * my),
        ],
        dim=-1,
    )


def _inclusive_sums(values: Tensor) -> Tensor:
    """Running sums along the last dimension, as one matrix product (faster than a scan)."""
    size = values.shape[-1]
    upper = torch.ones(size, size, dtype=values.dtype, device=values.device).triu_()
    return torch.matmul(values, upper)


@dataclass
class _ChunkWeights:
    """One chunk's per-(pixel, slot) quantities: computed by the forward, kept for the backward."""

    alphas: Tensor
    """Alpha after the clamp and the 1/255 skip (not yet cut at termination)."""
    before: Tensor
    """Transmittance in front of each slot, 0 where not composited."""
    not_smooth: Tensor
    """Where alpha does not follow ``opacity * exp(-sigma)``: clamped, skipped, or not composited."""


def _chunk_weights(
    features: Tensor, coefs: Tensor, log_entering: Tensor
) -> tuple[_ChunkWeights, Tensor, Tensor, Tensor]:
    """What the backward needs, the (t, P, K) compositing weights ``alpha * before``, the (t, P)
    log transmittance the chunk's composited slots let through, and the (t, P) pixels whose
    compositing ends inside or before the chunk.

    ``log_entering`` is the log transmittance in front of the chunk, -inf for finished pixels.
    """
    # Far from its centre a Gaussian's log alpha drops below -87, where exp() leaves its
    # vectorised path and runs about 50x slower; such alphas are skipped anyway, so the
    # argument is floored just below the 1/255 threshold first.
    log_raw = torch.matmul(features, coefs.transpose(1, 2)).clamp_(min=LOG_ALPHA_FLOOR)  # (t, P, K)
    raw = torch.exp(log_raw)
    # gsplat also skips sigma < 0, which a positive-definite conic (the projection adds eps2d)
    # never yields; the expanded quadratic can round to -1e-7 at a Gaussian's centre, and
    # skipping there would punch a hole in the peak, so that test is deliberately left out.
    alphas = raw.clamp(max=ALPHA_MAX).masked_fill_(raw < ALPHA_MIN, 0.0)
    log_keep = torch.log(1.0 - alphas)
    inclusive = _inclusive_sums(log_keep).add_(log_entering[..., None])
    cut = inclusive <= LOG_TRANSMITTANCE_MIN
    before = torch.exp((inclusive - log_keep).clamp_(min=LOG_TRANSMITTANCE_FLOOR)).masked_fill_(cut, 0.0)
    kept = _ChunkWeights(alphas=alphas, before=before, not_smooth=cut | (alphas != raw))
    return kept, alphas * before, log_keep.masked_fill_(cut, 0.0).sum(-1), cut[..., -1]


def _tiles_to_image(tiles: Tensor, bins_x: int, bins_y: int, width: int, height: int) -> Tensor:
    channels = tiles.shape[-1]
    grid = tiles.reshape(bins_y, bins_x, TILE_SIZE, TILE_SIZE, channels).permute(0, 2, 1, 3, 4)
    return grid.reshape(bins_y * TILE_SIZE, bins_x * TILE_SIZE, channels)[:height, :width]


def _image_to_tiles(image: Tensor, bins_x: int, bins_y: int) -> Tensor:
    height, width, channels = image.shape
    padded = image.new_zeros(bins_y * TILE_SIZE, bins_x * TILE_SIZE, channels)
    padded[:height, :width] = image
    grid = padded.reshape(bins_y, TILE_SIZE, bins_x, TILE_SIZE, channels).permute(0, 2, 1, 3, 4)
    return grid.reshape(bins_y * bins_x, PIXELS_PER_TILE, channels)


class CompositeTiles(torch.autograd.Function):
    """Composite (tiles, slots) Gaussians into an image; gradients for coefs, colours, background."""

    @staticmethod
    def forward(
        ctx: Any,
        coefs: Tensor,
        colors: Tensor,
        background: Tensor,
        counts: Tensor,
        grid: tuple[int, int, int, int, int],
    ) -> tuple[Tensor, Tensor]:
        tiles_x, tiles_y, width, height, chunk = grid
        tile_count = coefs.shape[0]
        features = pixel_features(coefs.dtype, coefs.device)
        log_transmittance = coefs.new_zeros(tile_count, PIXELS_PER_TILE)
        finished = torch.zeros(tile_count, PIXELS_PER_TILE, dtype=torch.bool, device=coefs.device)
        accumulated = coefs.new_zeros(tile_count, PIXELS_PER_TILE, 3)
        keep_for_backward = any(ctx.needs_input_grad)
        saved: list[tuple[Tensor, Tensor, _ChunkWeights]] = []
        for start in range(0, coefs.shape[1], chunk):
            live = ((counts > start) & ~finished.all(dim=1)).nonzero()[:, 0]
            if live.numel() == 0:
                break
            window = slice(start, start + chunk)
            log_entering = log_transmittance[live].masked_fill(finished[live], -math.inf)
            chunk_weights, weights, log_passed, terminated = _chunk_weights(features, coefs[live, window], log_entering)
            if keep_for_backward:
                saved.append((live, accumulated[live], chunk_weights))
            accumulated[live] += torch.bmm(weights, colors[live, window])
            log_transmittance[live] += log_passed
            finished[live] |= terminated
        transmittance = torch.exp(log_transmittance)
        final_color = accumulated + transmittance[..., None] * background
        image = output_buffer((height, width, 3), coefs)
        image.copy_(_tiles_to_image(final_color, tiles_x, tiles_y, width, height))
        alpha = output_buffer((height, width, 1), coefs)
        alpha.copy_(_tiles_to_image(1.0 - transmittance[..., None], tiles_x, tiles_y, width, height))
        ctx.save_for_backward(coefs, colors, final_color, transmittance)
        ctx.chunks = saved
        ctx.grid = grid
        ctx.mark_non_differentiable(alpha)
        return image, alpha

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, image_grad: Tensor, _alpha_grad: Tensor | None) -> tuple[Tensor | None, ...]:
        coefs, colors, final_color, transmittance = ctx.saved_tensors
        tiles_x, tiles_y, _width, _height, chunk = ctx.grid
        features = pixel_features(coefs.dtype, coefs.device)
        grad_tiles = _image_to_tiles(image_grad, tiles_x, tiles_y)
        grad_coefs = torch.zeros_like(coefs)
        grad_colors = torch.zeros_like(colors)
        final_dot = (final_color * grad_tiles).sum(-1)  # (tiles, P)
        for index, (live, accumulated, chunk_weights) in enumerate(ctx.chunks):
            window = slice(index * chunk, index * chunk + chunk)
            alphas = chunk_weights.alphas
            weights = alphas * chunk_weights.before
            grad = grad_tiles[live]
            color_dot = torch.bmm(grad, colors[live, window].transpose(1, 2))  # (t, P, K): c_k · dL/dC
            prefix_dot = _inclusive_sums(weights * color_dot).add_((accumulated * grad).sum(-1)[..., None])
            behind = (final_dot[live][..., None] - prefix_dot) / (1.0 - alphas)
            grad_alpha = chunk_weights.before * color_dot - behind
            # Where alpha is smooth it equals opacity * exp(-sigma), its own derivative in log alpha.
            grad_log_raw = (grad_alpha * alphas).masked_fill_(chunk_weights.not_smooth, 0.0)
            grad_coefs[live, window] = torch.matmul(grad_log_raw.transpose(1, 2), features)
            grad_colors[live, window] = torch.bmm(weights.transpose(1, 2), grad)
        grad_background = (grad_tiles * transmittance[..., None]).sum((0, 1))
        return grad_coefs, grad_colors, grad_background, None, None


def composite_tiles(
    coefs: Tensor,
    colors: Tensor,
    background: Tensor,
    counts: Tensor,
    grid: tuple[int, int, int, int, int],
) -> tuple[Tensor, Tensor]:
    """(H, W, 3) image and (H, W, 1) alpha from (tiles, slots, ·) Gaussian tables.

    ``coefs`` are ``log_alpha_coefficients``; ``grid`` is ``(tiles_x, tiles_y, width, height,
    chunk)``; slots must be a multiple of ``chunk``. The alpha map carries no gradient.
    """
    image, alpha = CompositeTiles.apply(coefs, colors, background, counts, grid)
    return image, alpha
