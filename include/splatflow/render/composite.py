"""Front-to-back alpha compositing of binned Gaussians, with a hand-written backward.

Letting autograd record compositing keeps every (pixel, Gaussian) intermediate alive for the
backward pass, which is what made a straightforward tile rasterizer slow and memory-hungry on
CPU. Here the forward keeps only each chunk's entering transmittance and colour, and the
backward recomputes one chunk at a time and applies the closed-form derivative of

    C = sum_i c_i a_i T_i + T_final * background,   T_i = prod_{j<i} (1 - a_j)

namely ``dC/da_i = c_i T_i - (C - prefix_i) / (1 - a_i)`` with ``prefix_i`` the colour
composited up to and including ``i``. The Gaussian falloff is written as a bilinear form of
six per-pixel features and six per-(tile, Gaussian) coefficients, so the exponent of a whole
chunk is one batched matrix product, and so are its gradients.

Alpha rules follow gsplat's CUDA kernel so both paths render the same image: alpha is clamped
to 0.999, contributions below 1/255 are skipped, and a pixel stops
before the Gaussian that would bring its transmittance to 1e-4 or below.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor
from torch.autograd.function import FunctionCtx, once_differentiable

from splatflow.render.tiles import TILE_SIZE

ALPHA_MAX = 0.999
ALPHA_MIN = 1.0 / 255.0
TRANSMITTANCE_MIN = 1e-4
PIXELS_PER_TILE = TILE_SIZE * TILE_SIZE


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


def falloff_coefficients(local_means: Tensor, conics: Tensor) -> Tensor:
    """(..., 6) coefficients so that ``features @ coefficients`` is gsplat's exponent ``sigma``.

    ``sigma = ½a·dx² + b·dx·dy + ½c·dy²`` with ``dx = x - mx``; expanded over the features
    ``[x², xy, y², x, y, 1]``. Plain tensor arithmetic, so autograd carries it back to the
    projected means and conics.
    """
    mx, my = local_means.unbind(-1)
    a, b, c = conics.unbind(-1)
    return torch.stack(
        [
            0.5 * a,
            b,
            0.5 * c,
            -(a * mx + b * my),
            -(b * mx + c * my),
            0.5 * a * mx * mx + b * mx * my + 0.5 * c * my * my,
        ],
        dim=-1,
    )


@dataclass
class _ChunkAlphas:
    """One chunk's per-(pixel, slot) quantities, shared by the forward and the recomputation."""

    falloff: Tensor
    """exp(-sigma), the derivative of raw alpha with respect to opacity."""
    raw: Tensor
    """opacity * exp(-sigma) before the clamp."""
    alphas: Tensor
    """Alpha actually composited (0 where skipped or past termination)."""
    gradient_mask: Tensor
    """Where alpha depends smoothly on its inputs (composited and not clamped)."""
    before: Tensor
    """Transmittance in front of each slot."""
    after: Tensor
    """(t, P) transmittance behind the chunk."""
    finished: Tensor
    """(t, P) pixels whose compositing terminated inside or before this chunk."""


def _chunk_alphas(
    features: Tensor, coefs: Tensor, opacities: Tensor, entering: Tensor, finished: Tensor
) -> _ChunkAlphas:
    sigma = torch.matmul(features, coefs.transpose(1, 2))  # (t, P, K)
    falloff = torch.exp(-sigma)
    raw = opacities[:, None, :] * falloff
    # gsplat also skips sigma < 0, which a positive-definite conic (the projection adds eps2d)
    # never yields; the expanded quadratic can round to -1e-7 at a Gaussian's centre, and
    # skipping there would punch a hole in the peak, so that test is deliberately left out.
    significant = raw >= ALPHA_MIN
    alphas = torch.where(significant, raw.clamp(max=ALPHA_MAX), 0.0)
    through = torch.cumprod(1.0 - alphas, dim=-1) * entering[..., None]
    kept = (through > TRANSMITTANCE_MIN) & ~finished[..., None]
    alphas = alphas * kept
    keep_factor = 1.0 - alphas
    cumulative = torch.cumprod(keep_factor, dim=-1) * entering[..., None]
    return _ChunkAlphas(
        falloff=falloff,
        raw=raw,
        alphas=alphas,
        gradient_mask=kept & significant & (raw <= ALPHA_MAX),
        before=cumulative / keep_factor,
        after=cumulative[..., -1],
        finished=finished | (through[..., -1] <= TRANSMITTANCE_MIN),
    )


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
    """Composite (tiles, slots) Gaussians into an image; gradients for coefs, opacities, colours."""

    @staticmethod
    def forward(
        ctx: FunctionCtx,
        coefs: Tensor,
        opacities: Tensor,
        colors: Tensor,
        background: Tensor,
        counts: Tensor,
        grid: tuple[int, int, int, int, int],
    ) -> tuple[Tensor, Tensor]:
        tiles_x, tiles_y, width, height, chunk = grid
        tile_count = coefs.shape[0]
        features = pixel_features(coefs.dtype, coefs.device)
        transmittance = coefs.new_ones(tile_count, PIXELS_PER_TILE)
        finished = torch.zeros(tile_count, PIXELS_PER_TILE, dtype=torch.bool, device=coefs.device)
        accumulated = coefs.new_zeros(tile_count, PIXELS_PER_TILE, 3)
        saved: list[tuple[Tensor, Tensor, Tensor, Tensor]] = []
        for start in range(0, coefs.shape[1], chunk):
            live = ((counts > start) & ~finished.all(dim=1)).nonzero()[:, 0]
            if live.numel() == 0:
                break
            window = slice(start, start + chunk)
            entering = transmittance[live]
            chunk_alphas = _chunk_alphas(
                features, coefs[live, window], opacities[live, window], entering, finished[live]
            )
            saved.append((live, entering, finished[live], accumulated[live]))
            weights = chunk_alphas.alphas * chunk_alphas.before
            accumulated[live] += torch.bmm(weights, colors[live, window])
            transmittance[live] = chunk_alphas.after
            finished[live] = chunk_alphas.finished
        final_color = accumulated + transmittance[..., None] * background
        image = output_buffer((height, width, 3), coefs)
        image.copy_(_tiles_to_image(final_color, tiles_x, tiles_y, width, height))
        alpha = output_buffer((height, width, 1), coefs)
        alpha.copy_(_tiles_to_image(1.0 - transmittance[..., None], tiles_x, tiles_y, width, height))
        ctx.save_for_backward(coefs, opacities, colors, final_color, transmittance)
        ctx.chunks = saved  # type: ignore[attr-defined]
        ctx.grid = grid  # type: ignore[attr-defined]
        ctx.mark_non_differentiable(alpha)
        return image, alpha

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, image_grad: Tensor, _alpha_grad: Tensor | None) -> tuple[Tensor | None, ...]:
        coefs, opacities, colors, final_color, transmittance = ctx.saved_tensors
        tiles_x, tiles_y, _width, _height, chunk = ctx.grid
        features = pixel_features(coefs.dtype, coefs.device)
        grad_tiles = _image_to_tiles(image_grad, tiles_x, tiles_y)
        grad_coefs = torch.zeros_like(coefs)
        grad_opacities = torch.zeros_like(opacities)
        grad_colors = torch.zeros_like(colors)
        final_dot = (final_color * grad_tiles).sum(-1)  # (tiles, P)
        for index, (live, entering, finished, accumulated) in enumerate(ctx.chunks):
            window = slice(index * chunk, index * chunk + chunk)
            live_colors = colors[live, window]
            opacity = opacities[live, window]
            chunk_alphas = _chunk_alphas(features, coefs[live, window], opacity, entering, finished)
            grad = grad_tiles[live]
            weights = chunk_alphas.alphas * chunk_alphas.before
            color_dot = torch.bmm(grad, live_colors.transpose(1, 2))  # (t, P, K): c_k · dL/dC
            prefix_dot = (accumulated * grad).sum(-1)[..., None] + torch.cumsum(weights * color_dot, -1)
            behind = (final_dot[live][..., None] - prefix_dot) / (1.0 - chunk_alphas.alphas)
            grad_alpha = (chunk_alphas.before * color_dot - behind) * chunk_alphas.gradient_mask
            grad_sigma = -grad_alpha * chunk_alphas.raw
            grad_coefs[live, window] = torch.matmul(grad_sigma.transpose(1, 2), features)
            grad_opacities[live, window] = (grad_alpha * chunk_alphas.falloff).sum(1)
            grad_colors[live, window] = torch.bmm(weights.transpose(1, 2), grad)
        grad_background = (grad_tiles * transmittance[..., None]).sum((0, 1))
        return grad_coefs, grad_opacities, grad_colors, grad_background, None, None


def composite_tiles(
    coefs: Tensor,
    opacities: Tensor,
    colors: Tensor,
    background: Tensor,
    counts: Tensor,
    grid: tuple[int, int, int, int, int],
) -> tuple[Tensor, Tensor]:
    """(H, W, 3) image and (H, W, 1) alpha from (tiles, slots, ·) Gaussian tables.

    ``grid`` is ``(tiles_x, tiles_y, width, height, chunk)``; slots must be a multiple of
    ``chunk``. The alpha map carries no gradient.
    """
    image, alpha = CompositeTiles.apply(coefs, opacities, colors, background, counts, grid)
    return image, alpha
