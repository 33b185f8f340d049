"""Rendering 3D Gaussian splats: gsplat's CUDA rasterizer on a GPU, our PyTorch one elsewhere.

``select_rasterizer`` is the one place that picks; ``render_splats`` is the numpy entry point
for stages that only need pictures of a finished model (compression compares renders of the
original and the compressed splat).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from splatflow.formats.cameras import Camera
from splatflow.formats.ply import Splats
from splatflow.render.rasterize import rasterization

Rasterizer = Callable[..., tuple[torch.Tensor, torch.Tensor, dict[str, Any]]]

__all__ = [
    "Rasterizer",
    "float_tensor",
    "rasterization",
    "rasterize_splats",
    "render_splats",
    "rendering_device",
    "select_rasterizer",
    "to_8_bit",
]


def select_rasterizer(device: torch.device) -> Rasterizer:
    """gsplat's fused CUDA ``rasterization`` on a CUDA device, the pure-PyTorch one otherwise."""
    if device.type == "cuda":
        from gsplat import rasterization as cuda_rasterization

        return cuda_rasterization
    return rasterization


def camera_tensors(camera: Camera, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(1, 4, 4) world-to-camera and (1, 3, 3) intrinsics, float32, as rasterizers take them."""
    viewmat = torch.tensor(camera.view_matrix(), dtype=torch.float32, device=device)[None]
    intrinsics = torch.tensor(camera.intrinsics(), dtype=torch.float32, device=device)[None]
    return viewmat, intrinsics


def rendering_device() -> torch.device:
    """Where finished models are drawn: CUDA when present, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def float_tensor(array: npt.ArrayLike, device: torch.device) -> torch.Tensor:
    return torch.as_tensor(np.ascontiguousarray(array), dtype=torch.float32, device=device)


def rasterize_splats(
    splats: Splats,
    camera: Camera,
    colors: torch.Tensor,
    sh_degree: int | None,
    background: tuple[float, float, float],
) -> torch.Tensor:
    """(1, H, W, 3) render of ``splats`` with ``colors`` (SH coefficients of ``sh_degree``, or
    plain values when it is ``None``), on ``colors``' device, as the model was trained
    (antialiased or not); differentiable in ``colors``."""
    device = colors.device
    viewmat, intrinsics = camera_tensors(camera, device)
    images, _, _ = select_rasterizer(device)(
        float_tensor(splats.means, device),
        float_tensor(splats.quats, device),
        torch.exp(float_tensor(splats.scales, device)),
        torch.sigmoid(float_tensor(splats.opacities, device)),
        colors,
        viewmat,
        intrinsics,
        camera.width,
        camera.height,
        sh_degree=sh_degree,
        backgrounds=torch.tensor([background], dtype=torch.float32, device=device),
        rasterize_mode="antialiased" if splats.antialiased else "classic",
    )
    return images


@torch.no_grad()
def render_splats(
    splats: Splats, camera: Camera, background: tuple[float, float, float] = (0.0, 0.0, 0.0)
) -> npt.NDArray[np.float32]:
    """(H, W, 3) float32 render in [0, 1] of ``splats`` seen by ``camera``; on CUDA if present."""
    device = rendering_device()
    coeffs = torch.cat([float_tensor(splats.sh_dc, device)[:, None, :], float_tensor(splats.sh_rest, device)], dim=1)
    images = rasterize_splats(splats, camera, coeffs, splats.sh_degree, background)
    return images[0].clamp(0.0, 1.0).cpu().numpy().astype(np.float32)


def to_8_bit(image: npt.NDArray[np.float32]) -> npt.NDArray[np.uint8]:
    """A render in [0, 1] as 8-bit pixels, rounded to the nearest step: every PNG of a render
    (stills, comparisons, training previews) is made the same way, so their colours compare."""
    return np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)
