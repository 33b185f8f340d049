"""A differentiable 3DGS rasterizer in pure PyTorch with gsplat's calling convention.

It takes the arguments of ``gsplat.rasterization`` that the trainer uses, with the same names
and defaults, and returns the same ``(colors, alphas, meta)`` triple, with ``meta`` in gsplat
1.5.3's layout for the projection entries, packed (one row per visible camera-Gaussian pair,
gsplat's default) or unpacked (``[C, N, ...]``): ``means2d`` (whose gradient the densification
strategies read), ``radii``, ``depths``, ``conics``, ``opacities``, the ``batch_ids``,
``camera_ids`` and ``gaussian_ids`` of packed rows, ``width``, ``height``, ``n_cameras``. The
trainer can therefore swap it in when CUDA is absent and keep one loop; tests hold it to the
layout gsplat's own ``rasterization`` builds. Projection reuses gsplat's own pure-PyTorch EWA projection; binning and
compositing are ours (see ``tiles`` and ``composite``).

``rasterize_mode="antialiased"`` is gsplat's (Mip-Splatting's 2D filter): the projection's ``eps2d``
dilation blurs every splat by about a third of a pixel, which makes a splat thinner than a pixel
look a pixel wide; classic mode keeps its opacity, so the model learns sub-pixel needles that
look right at the training resolution and show as bright streaks at any other. The antialiased
mode scales each splat's opacity by ``sqrt(det(cov2d) / det(cov2d + eps2d I))``, the share of its
footprint that is the splat and not the blur, so a thin splat is as faint as it is thin.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

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
    antialiased: bool,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor | None]:
    """gsplat's projection for one camera, with Gaussians at or behind the near plane culled
    *before* it rather than after.

    The pure-PyTorch projection divides by depth; a Gaussian exactly on the camera's plane (SfM
    can put points there) gets NaN screen coordinates, and although it is culled, autograd
    multiplies its zero gradient by those NaNs and poisons its parameters. Such Gaussians are
    projected from a harmless stand-in point instead, and get zero gradient and zero radius, as
    the CUDA kernel gives them. The last item is the antialiasing compensation of each Gaussian's
    opacity (``None`` unless ``antialiased``), gsplat's own formula.
    """
    with torch.no_grad():
        in_front = (means @ viewmat[2, :3] + viewmat[2, 3]) > near_plane
        stand_in = -viewmat[:3, :3].T @ viewmat[:3, 3] + viewmat[2, :3]  # one unit ahead of the camera
    safe_means = torch.where(in_front[:, None], means, stand_in)
    radii, means2d, depths, conics, compensations = _fully_fused_projection(
        safe_means,
        covars,
        viewmat[None],
        intrinsics[None],
        width,
        height,
        eps2d=eps2d,
        near_plane=near_plane,
        far_plane=far_plane,
        calc_compensations=antialiased,
    )
    return (
        radii[0] * in_front[:, None],
        means2d[0],
        depths[0],
        conics[0],
        None if compensations is None else compensations[0],
    )


@dataclass(frozen=True)
class _Projected:
    """The projection of the visible Gaussians, in the layout ``meta`` reports."""

    camera_ids: Tensor | None
    gaussian_ids: Tensor | None
    radii: Tensor
    means2d: Tensor
    depths: Tensor
    conics: Tensor
    opacities: Tensor

    def camera(self, index: int) -> tuple[Tensor | None, Tensor, Tensor, Tensor, Tensor, Tensor]:
        """``(gaussian ids or None for all, radii, means2d, depths, conics, opacities)`` of one camera."""
        rows: int | Tensor = index
        ids = None
        if self.camera_ids is not None and self.gaussian_ids is not None:
            rows = self.camera_ids == index
            ids = self.gaussian_ids[rows]
        return ids, self.radii[rows], self.means2d[rows], self.depths[rows], self.conics[rows], self.opacities[rows]


def _pack(radii: Tensor, means2d: Tensor, depths: Tensor, conics: Tensor, opacities: Tensor) -> _Projected:
    """Keep the visible (camera, Gaussian) pairs, as gsplat's packed projection does. The packed
    ``means2d`` is what the compositor consumes, so its gradient is the one the strategies read.
    ``opacities`` are per (camera, Gaussian), as the compensation makes them."""
    camera_ids, gaussian_ids = (radii > 0).all(dim=-1).nonzero(as_tuple=True)
    return _Projected(
        camera_ids=camera_ids,
        gaussian_ids=gaussian_ids,
        radii=radii[camera_ids, gaussian_ids],
        means2d=means2d[camera_ids, gaussian_ids],
        depths=depths[camera_ids, gaussian_ids],
        conics=conics[camera_ids, gaussian_ids],
        opacities=opacities[camera_ids, gaussian_ids],
    )


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
    near_plane: float = 0.01,
    far_plane: float = 1e10,
    eps2d: float = 0.3,
    sh_degree: int | None = None,
    packed: bool = True,
    backgrounds: Tensor | None = None,
    rasterize_mode: Literal["classic", "antialiased"] = "classic",
    chunk: int = DEFAULT_CHUNK,
) -> tuple[Tensor, Tensor, dict[str, Any]]:
    """Render C cameras: (C, H, W, 3) colours, (C, H, W, 1) alphas, and gsplat-style meta.

    ``scales`` are linear (not log) and ``opacities`` in [0, 1], as gsplat expects. ``colors``
    are (N, 3) RGB, or (N, K, 3) SH coefficients when ``sh_degree`` is given. ``packed`` chooses
    the layout of ``meta`` (see the module's docstring); the images are the same either way.
    ``rasterize_mode`` is gsplat's: ``antialiased`` compensates each opacity for the 2D blur.
    """
    n_cameras = viewmats.shape[0]
    covars, _ = _quat_scale_to_covar_preci(quats, scales, compute_preci=False)
    assert covars is not None
    if rasterize_mode not in ("classic", "antialiased"):
        raise ValueError(f"rasterize_mode must be 'classic' or 'antialiased', not {rasterize_mode!r}")
    antialiased = rasterize_mode == "antialiased"
    projected = [
        _project_in_front(
            means, covars, viewmats[camera], Ks[camera], width, height, eps2d, near_plane, far_plane, antialiased
        )
        for camera in range(n_cameras)
    ]
    radii, means2d, depths, conics = (torch.stack(parts) for parts in list(zip(*projected, strict=True))[:4])
    per_camera_opacities = opacities[None].expand(n_cameras, -1)
    if antialiased:
        compensations = torch.stack([factor for *_, factor in projected if factor is not None])
        per_camera_opacities = per_camera_opacities * compensations
    if packed:
        layout = _pack(radii, means2d, depths, conics, per_camera_opacities)
    else:
        layout = _Projected(None, None, radii, means2d, depths, conics, per_camera_opacities)
    if sh_degree is None:
        per_camera_colors = colors[None].expand(n_cameras, -1, -1)
    else:
        per_camera_colors = colors_from_sh(means, colors, viewmats, sh_degree)
    if backgrounds is None:
        backgrounds = means.new_zeros(n_cameras, 3)
    images, alphas = [], []
    for camera in range(n_cameras):
        ids, camera_radii, camera_means2d, camera_depths, camera_conics, camera_opacities = layout.camera(camera)
        camera_colors = per_camera_colors[camera] if ids is None else per_camera_colors[camera][ids]
        image, alpha = _render_one_camera(
            camera_means2d,
            camera_conics,
            camera_radii,
            camera_depths,
            camera_opacities,
            camera_colors,
            backgrounds[camera],
            width,
            height,
            chunk,
        )
        images.append(image)
        alphas.append(alpha)
    meta = {
        "batch_ids": None if layout.camera_ids is None else torch.zeros_like(layout.camera_ids),
        "camera_ids": layout.camera_ids,
        "gaussian_ids": layout.gaussian_ids,
        "radii": layout.radii,
        "means2d": layout.means2d,
        "depths": layout.depths,
        "conics": layout.conics,
        "opacities": layout.opacities,
        "width": width,
        "height": height,
        "tile_size": TILE_SIZE,
        "n_batches": 1,
        "n_cameras": n_cameras,
    }
    return torch.stack(images), torch.stack(alphas), meta
