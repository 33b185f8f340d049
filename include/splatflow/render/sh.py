"""View-dependent colour from spherical-harmonic coefficients.

The evaluation itself is gsplat's pure-PyTorch one, so the CPU path colours a Gaussian exactly as
the CUDA path does; this module only adds the camera-centre directions and gsplat's ``+0.5``
offset and clamp, which the CUDA ``rasterization`` applies after its SH kernel.
"""

from __future__ import annotations

import torch
from gsplat.cuda._torch_impl import _spherical_harmonics
from torch import Tensor


def camera_centres(viewmats: Tensor) -> Tensor:
    """(C, 3) world positions of the cameras of (C, 4, 4) world-to-camera matrices."""
    rotations = viewmats[:, :3, :3]
    translations = viewmats[:, :3, 3:]
    return -(rotations.transpose(1, 2) @ translations)[..., 0]


def colors_from_sh(means: Tensor, coeffs: Tensor, viewmats: Tensor, sh_degree: int) -> Tensor:
    """(C, N, 3) RGB of (N, K, 3) SH ``coeffs`` seen from each camera, using degrees up to ``sh_degree``."""
    directions = means[None, :, :] - camera_centres(viewmats)[:, None, :]
    expanded = coeffs[None].expand(viewmats.shape[0], -1, -1, -1)
    colors = _spherical_harmonics(sh_degree, directions, expanded)
    return torch.clamp_min(colors + 0.5, 0.0)
