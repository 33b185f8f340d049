"""What each splat adds to a view, and how far away the surface the view shows is.

A splat's share of a pixel is its alpha times the transmittance in front of it (``a_i T_i``),
the weight front-to-back compositing gives it: ``C = sum_i c_i a_i T_i + T_final * background``
(see ``composite``). The image is linear in the colours, so the gradient of the summed image with
respect to a splat's colour is exactly its weight summed over the pixels, whatever the
rasterizer: one forward and one backward pass give every splat's contribution to the view, on
our CPU rasterizer and on gsplat's CUDA one alike (both differentiate the colours; gsplat's
``rasterization`` takes ``colors`` of shape ``[..., N, D]`` when ``sh_degree`` is ``None``).

The same render carries each pixel's surface depth: with a splat's colour set to the inverse of
its depth, the composited value over the accumulated alpha is the pixel's mean inverse depth,
whose inverse is a depth dominated by what is near and opaque. A mean of depths would not do:
one sky splat 2 km behind a building's edge pulls the edge's mean depth hundreds of metres back,
while its inverse depth adds almost nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch

from splatflow.formats.cameras import Camera
from splatflow.formats.ply import Splats
from splatflow.render import camera_tensors, float_tensor, rasterize_splats, rendering_device

MIN_COVERAGE = 1e-3
"""Pixels whose accumulated alpha is below this show no surface (their depth is infinite)."""


@dataclass(frozen=True)
class ViewContributions:
    weights: npt.NDArray[np.float64]
    """(N,) each splat's ``a_i T_i`` summed over the view's pixels, in pixels."""
    surface_depth: npt.NDArray[np.float64]
    """(H, W) the depth of the surface each pixel shows (infinite where it shows none)."""


def view_contributions(splats: Splats, camera: Camera) -> ViewContributions:
    """Every splat's weight in ``camera``'s image and the image's surface depth (see the module)."""
    device = rendering_device()
    means = float_tensor(splats.means, device)
    viewmat, _ = camera_tensors(camera, device)
    depth = means @ viewmat[0, 2, :3] + viewmat[0, 2, 3]
    inverse_depth = torch.where(depth > 0, 1.0 / depth.clamp_min(1e-9), torch.zeros_like(depth))
    with torch.enable_grad():
        colors = torch.stack([inverse_depth, torch.ones_like(depth), torch.zeros_like(depth)], dim=1)
        colors.requires_grad_(True)
        images = rasterize_splats(splats, camera, colors, None, (0.0, 0.0, 0.0))
        # d(sum of the blue channel)/d(blue of splat i) = sum over pixels of a_i T_i.
        images[0, ..., 2].sum().backward()
    assert colors.grad is not None
    weights = colors.grad[:, 2].detach().cpu().numpy().astype(np.float64)
    image = images[0].detach().cpu().numpy().astype(np.float64)
    coverage = image[..., 1]
    mean_inverse = image[..., 0] / np.maximum(coverage, MIN_COVERAGE)
    shown = (coverage >= MIN_COVERAGE) & (mean_inverse > 0)
    surface_depth = np.full(coverage.shape, np.inf)
    surface_depth[shown] = 1.0 / mean_inverse[shown]
    return ViewContributions(weights=weights, surface_depth=surface_depth)
