"""A differentiable 3DGS rasterizer in pure PyTorch with gsplat's calling convention.

It takes the arguments of ``gsplat.rasterization`` that the trainer uses and returns the same
``(colors, alphas, meta)`` triple, including the ``meta`` entries gsplat's densification
strategies read (``means2d`` with its gradient, ``radii``, ``width``, ``height``,
``n_cameras``, ``gaussian_ids``). The trainer can therefore swap it in when CUDA is absent and
keep one loop. Projection reuses gsplat's own pure-PyTorch EWA projection; binning and
compositing are ours (see ``tiles`` and ``composite``).
"""

from __future__ import annotations

from typing import Any

import torch
from gsplat.cuda._torch_impl import _fully_fused_projection, _quat_scale_to_covar_preci
from torch import Tensor

from splatflow.render.composite import composite_tiles, log_alpha_coefficients
from splatflow.render.sh import colors_from_sh
from splatflow.render.tiles import TILE_SIZE, bin_gaussians

DEFAULT_CHUNK = 32
"""Gaussians per tile composited together; wide enough to amortise per-op overhead, narrow
enough that a chunk's (tiles, 64, chunk) tensors stay cache-friendly and few slots are padding."""


def _render_one_camera(
    means2d: Tensor,
    conics: Tensor,
    radii: Tensor,
    depths: Tensor,
    opacities: Tensor,
    colors: Tensor,
    background: Tensor,
    width: int,
    height: int,
    chunk: int,
) -> tuple[Tensor, Tensor]:
    bins = bin_gaussians(
        means2d.detach(), radii, depths.detach(), conics.detach(), opacities.detach(), width, height, chunk
    )
    ids = bins.gaussian_ids
    centres = bins.tile_centres(means2d.dtype)
    # One extra, fully transparent Gaussian answers for the padding slots.
    local_means = torch.cat([means2d, means2d.new_zeros(1, 2)])[ids] - centres[:, None, :]
    coefs = log_alpha_coefficients(
        local_means,
        torch.cat([conics, conics.new_zeros(1, 3)])[ids],
        torch.cat([opacities, opacities.new_zeros(1)])[ids],
    )
    slot_colors = torch.cat([colors, colors.new_zeros(1, 3)])[ids]
    grid = (bins.tiles_x, bins.tiles_y, width, height, chunk)
    return composite_tiles(coefs, slot_colors, background, bins.counts, grid)


def _project_in_front(
    means: Tensor,
    covars: Tensor,
    viewmat: Tensor,
    intrinsics: Tensor,
    width: int,
    height: int,
    eps2d: float,
    near_plane: float,
    far_plane: float,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """gsplat's projection for one camera, with Gaussians at or behind the near plane culled
    *before* it rather than after.

    The pure-PyTorch projection divides by depth; a Gaussian exactly on the camera's plane (SfM
    can put points there) gets NaN screen coordinates, and although it is culled, autograd
    multiplies its zero gradient by those NaNs and poisons its parameters. Such Gaussians are
    projected from a harmless stand-in point instead, and get zero gradient and zero radius, as
    the CUDA kernel gives them.
    """
    with torch.no_grad():
        in_front = (means @ viewmat[2, :3] + viewmat[2, 3]) > near_plane
        stand_in = -viewmat[:3, :3].T @ viewmat[:3, 3] + viewmat[2, :3]  # one unit ahead of the camera
    safe_means = torch.where(in_front[:, None], means, stand_in)
    radii, means2d, depths, conics, _ = _fully_fused_projection(
        safe_means,
        covars,
        viewmat[None],
        intrinsics[None],
        width,
        height,
        eps2d=eps2d,
        near_plane=near_plane,
        far_plane=far_plane,
    )
    return radii[0] * in_front[:, None], means2d[0], depths[0], conics[0]


def rasterization(
    means: Tensor,
    quats: Tensor,
    scales: Tensor,
    opacities: Tensor,
    colors: Tensor,
    viewmats: Tensor,
    Ks: Tensor,  # noqa: N803 - gsplat's argument name, kept so both rasterizers share call sites
    width: int,
    height: int,
    sh_degree: int | None = None,
    backgrounds: Tensor | None = None,
    near_plane: float = 0.01,
    far_plane: float = 1e10,
    eps2d: float = 0.3,
    chunk: int = DEFAULT_CHUNK,
) -> tuple[Tensor, Tensor, dict[str, Any]]:
    """Render C cameras: (C, H, W, 3) colours, (C, H, W, 1) alphas, and gsplat-style meta.

    ``scales`` are linear (not log) and ``opacities`` in [0, 1], as gsplat expects. ``colors``
    are (N, 3) RGB, or (N, K, 3) SH coefficients when ``sh_degree`` is given.
    """
    n_cameras = viewmats.shape[0]
    covars, _ = _quat_scale_to_covar_preci(quats, scales, compute_preci=False)
    assert covars is not None
    projected = [
        _project_in_front(means, covars, viewmats[camera], Ks[camera], width, height, eps2d, near_plane, far_plane)
        for camera in range(n_cameras)
    ]
    radii, means2d, depths, conics = (torch.stack(parts) for parts in zip(*projected, strict=True))
    if sh_degree is None:
        per_camera_colors = colors[None].expand(n_cameras, -1, -1)
    else:
        per_camera_colors = colors_from_sh(means, colors, viewmats, sh_degree)
    if backgrounds is None:
        backgrounds = means.new_zeros(n_cameras, 3)
    images, alphas = [], []
    for camera in range(n_cameras):
        image, alpha = _render_one_camera(
            means2d[camera],
            conics[camera],
            radii[camera],
            depths[camera],
            opacities,
            per_camera_colors[camera],
            backgrounds[camera],
            width,
            height,
            chunk,
        )
        images.append(image)
        alphas.append(alpha)
    meta = {
        "means2d": means2d,
        "radii": radii,
        "depths": depths,
        "conics": conics,
        "width": width,
        "height": height,
        "n_cameras": n_cameras,
        "gaussian_ids": None,
        "tile_size": TILE_SIZE,
    }
    return torch.stack(images), torch.stack(alphas), meta
