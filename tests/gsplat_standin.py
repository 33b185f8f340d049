"""gsplat 1.5.3's own ``rasterization`` and MCMC relocation, run on a CPU.

Only gsplat's CUDA kernels are replaced; everything around them is gsplat's real Python: the
argument handling, the packed and unpacked layouts, the SH colouring, and the ``meta`` dict its
densification strategies read. The replacements follow the kernels' contracts (shapes, dtypes,
which rows are valid) using gsplat's pure-PyTorch reference code where it has one
(``gsplat.cuda._torch_impl``: projection, tile intersection, offsets, SH) and, where it has none
that runs on a CPU, a direct transcription of the CUDA kernel (compositing, the MCMC paper's
relocation). So the trainer can be driven through gsplat's calling convention without a GPU, and
a trainer that hands gsplat's output to a strategy in the wrong layout fails here as it would on
a T4. Slow (Python loops over Gaussians): for scenes of a few hundred Gaussians at most.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import gsplat.rendering
import gsplat.strategy.ops
import pytest
import torch
from gsplat.cuda._torch_impl import (
    _fully_fused_projection,
    _isect_offset_encode,
    _isect_tiles,
    _quat_scale_to_covar_preci,
    _spherical_harmonics,
)
from torch import Tensor

ALPHA_MAX = 0.999
ALPHA_MIN = 1.0 / 255.0
TRANSMITTANCE_MIN = 1e-4


def fully_fused_projection(
    means: Tensor,
    covars: Tensor | None,
    quats: Tensor | None,
    scales: Tensor | None,
    viewmats: Tensor,
    Ks: Tensor,  # noqa: N803 - gsplat's name
    width: int,
    height: int,
    eps2d: float = 0.3,
    near_plane: float = 0.01,
    far_plane: float = 1e10,
    radius_clip: float = 0.0,
    packed: bool = False,
    sparse_grad: bool = False,
    calc_compensations: bool = False,
    camera_model: str = "pinhole",
    opacities: Tensor | None = None,
) -> tuple[Tensor | None, ...]:
    """``[C, N, ...]`` results with zero radii for culled Gaussians, or, packed, the valid rows
    with their ``(batch_ids, camera_ids, gaussian_ids)``, as gsplat's two CUDA paths return."""
    assert means.dim() == 2 and covars is None and quats is not None and scales is not None
    full_covars, _ = _quat_scale_to_covar_preci(quats, scales, compute_preci=False)
    radii, means2d, depths, conics, compensations = _fully_fused_projection(
        means, full_covars, viewmats, Ks, width, height, eps2d, near_plane, far_plane, calc_compensations, camera_model
    )
    radii = radii * (radii > radius_clip).all(dim=-1, keepdim=True)
    if not packed:
        return radii, means2d, depths, conics, compensations
    camera_ids, gaussian_ids = (radii > 0).all(dim=-1).nonzero(as_tuple=True)
    rows = (camera_ids, gaussian_ids)
    return (
        torch.zeros_like(camera_ids),
        camera_ids,
        gaussian_ids,
        radii[rows],
        means2d[rows],
        depths[rows],
        conics[rows],
        None if compensations is None else compensations[rows],
    )


@torch.no_grad()
def isect_tiles(
    means2d: Tensor,
    radii: Tensor,
    depths: Tensor,
    tile_size: int,
    tile_width: int,
    tile_height: int,
    sort: bool = True,
    segmented: bool = False,
    packed: bool = False,
    n_images: int | None = None,
    image_ids: Tensor | None = None,
    gaussian_ids: Tensor | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """gsplat's reference intersection; packed rows are laid out densely for it and its flat ids
    mapped back to row numbers, as the packed CUDA kernel reports them."""
    if not packed:
        return _isect_tiles(means2d, radii, depths, tile_size, tile_width, tile_height, sort)
    assert n_images is not None and image_ids is not None and gaussian_ids is not None
    n_gaussians = int(gaussian_ids.max()) + 1 if gaussian_ids.numel() else 1
    rows = (image_ids, gaussian_ids)
    dense_means2d = means2d.new_zeros(n_images, n_gaussians, 2).index_put(rows, means2d)
    dense_radii = radii.new_zeros(n_images, n_gaussians, 2).index_put(rows, radii)
    dense_depths = depths.new_zeros(n_images, n_gaussians).index_put(rows, depths)
    tiles, isect_ids, dense_flat_ids = _isect_tiles(
        dense_means2d, dense_radii, dense_depths, tile_size, tile_width, tile_height, sort
    )
    row_of_dense = torch.full((n_images * n_gaussians,), -1, dtype=torch.int64)
    row_of_dense[image_ids * n_gaussians + gaussian_ids] = torch.arange(image_ids.numel())
    return tiles[rows], isect_ids, row_of_dense[dense_flat_ids.long()].int()


@torch.no_grad()
def isect_offset_encode(isect_ids: Tensor, n_images: int, tile_width: int, tile_height: int) -> Tensor:
    return _isect_offset_encode(isect_ids, n_images, tile_width, tile_height)


def spherical_harmonics(degrees_to_use: int, dirs: Tensor, coeffs: Tensor, masks: Tensor | None = None) -> Tensor:
    colors = _spherical_harmonics(degrees_to_use, dirs, coeffs)
    return colors if masks is None else colors * masks[..., None]


def _composite_tile(
    pixels: Tensor, means2d: Tensor, conics: Tensor, opacities: Tensor, colors: Tensor
) -> tuple[Tensor, Tensor]:
    """Front-to-back compositing of one tile's depth-sorted Gaussians, following
    ``RasterizeToPixels3DGSFwd.cu``: alpha clamped to 0.999, skipped below 1/255, and a pixel
    stops before the Gaussian that would bring its transmittance to 1e-4 or below."""
    delta = pixels[:, None, :] - means2d[None]  # (P, K, 2)
    a, b, c = conics.unbind(-1)
    sigma = 0.5 * (a * delta[..., 0] ** 2 + c * delta[..., 1] ** 2) + b * delta[..., 0] * delta[..., 1]
    alpha = torch.clamp_max(opacities * torch.exp(-sigma), ALPHA_MAX)
    alpha = torch.where((sigma >= 0) & (alpha >= ALPHA_MIN), alpha, torch.zeros_like(alpha))
    after = torch.cumprod(1.0 - alpha, dim=1)
    kept = after > TRANSMITTANCE_MIN
    before = torch.cat([torch.ones_like(after[:, :1]), after[:, :-1]], dim=1)
    weights = alpha * before * kept
    transmittance = torch.where(kept, after, torch.ones_like(after)).min(dim=1).values
    return weights @ colors, transmittance


def rasterize_to_pixels(
    means2d: Tensor,
    conics: Tensor,
    colors: Tensor,
    opacities: Tensor,
    image_width: int,
    image_height: int,
    tile_size: int,
    isect_offsets: Tensor,
    flatten_ids: Tensor,
    backgrounds: Tensor | None = None,
    masks: Tensor | None = None,
    packed: bool = False,
    absgrad: bool = False,
) -> tuple[Tensor, Tensor]:
    """Composite each tile's Gaussians (from gsplat's intersection lists) with autograd."""
    assert masks is None and not absgrad
    image_dims = isect_offsets.shape[:-2]
    n_images = math.prod(image_dims)
    tiles_y, tiles_x = isect_offsets.shape[-2:]
    channels = colors.shape[-1]
    flat = (means2d.reshape(-1, 2), conics.reshape(-1, 3), opacities.reshape(-1), colors.reshape(-1, channels))
    starts = isect_offsets.reshape(-1).tolist()
    ends = [*starts[1:], flatten_ids.numel()]
    images = []
    for image in range(n_images):
        canvas = means2d.new_zeros(tiles_y * tile_size, tiles_x * tile_size, channels)
        alphas = means2d.new_zeros(tiles_y * tile_size, tiles_x * tile_size)
        for tile in range(tiles_y * tiles_x):
            index = image * tiles_y * tiles_x + tile
            ids = flatten_ids[starts[index] : ends[index]].long()
            if ids.numel() == 0:
                continue
            row, column = divmod(tile, tiles_x)
            ys, xs = torch.meshgrid(
                torch.arange(tile_size) + row * tile_size, torch.arange(tile_size) + column * tile_size, indexing="ij"
            )
            pixels = torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=-1).to(means2d.dtype) + 0.5
            color, transmittance = _composite_tile(pixels, *(values[ids] for values in flat))
            canvas = canvas.index_put((ys, xs), color.reshape(tile_size, tile_size, channels))
            alphas = alphas.index_put((ys, xs), (1.0 - transmittance).reshape(tile_size, tile_size))
        images.append((canvas[:image_height, :image_width], alphas[:image_height, :image_width, None]))
    render_colors = torch.stack([color for color, _ in images]).reshape(*image_dims, image_height, image_width, -1)
    render_alphas = torch.stack([alpha for _, alpha in images]).reshape(*image_dims, image_height, image_width, 1)
    if backgrounds is not None:
        render_colors = render_colors + backgrounds[..., None, None, :] * (1.0 - render_alphas)
    return render_colors, render_alphas


def compute_relocation(opacities: Tensor, scales: Tensor, ratios: Tensor, binoms: Tensor) -> tuple[Tensor, Tensor]:
    """Equation 9 of "3D Gaussian Splatting as Markov Chain Monte Carlo", as ``RelocationCUDA.cu``
    computes it: the opacity and scale of each of ``ratio`` copies that together look like one."""
    n_max = binoms.shape[0]
    ratios = ratios.clamp(min=1, max=n_max).long()
    new_opacities = 1.0 - torch.pow(1.0 - opacities, 1.0 / ratios)
    k = torch.arange(n_max, dtype=opacities.dtype)
    powers = new_opacities[:, None] ** (k + 1)  # (N, k)
    # terms[:, i - 1] = sum over k < i of C(i-1, k) (-1)^k / sqrt(k+1) o^(k+1); binoms is 0 for k >= i
    terms = powers @ (binoms * ((-1.0) ** k / torch.sqrt(k + 1.0))).T
    denominators = torch.cumsum(terms, dim=1).gather(1, ratios[:, None] - 1)[:, 0]
    return new_opacities, (opacities / denominators)[:, None] * scales


KERNELS: dict[str, Callable[..., Any]] = {
    "fully_fused_projection": fully_fused_projection,
    "isect_tiles": isect_tiles,
    "isect_offset_encode": isect_offset_encode,
    "spherical_harmonics": spherical_harmonics,
    "rasterize_to_pixels": rasterize_to_pixels,
}


def gsplat_on_cpu(monkeypatch: pytest.MonkeyPatch) -> Callable[..., tuple[Tensor, Tensor, dict[str, Any]]]:
    """Swap gsplat's kernels for the CPU ones above (for this test) and return gsplat's real
    ``rasterization``; MCMC's relocation and position noise run on the CPU too."""
    for name, kernel in KERNELS.items():
        monkeypatch.setattr(gsplat.rendering, name, kernel)
    monkeypatch.setattr(gsplat.strategy.ops, "compute_relocation", compute_relocation)
    monkeypatch.setattr(gsplat.strategy.ops, "quat_scale_to_covar_preci", _quat_scale_to_covar_preci)
    return gsplat.rendering.rasterization
