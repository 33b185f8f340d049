"""Initial Gaussians from the SfM points, as in the 3DGS paper.

One isotropic Gaussian per point, coloured by the point, sized by the mean distance to its three
nearest neighbours (so the initial model covers the scene without large holes or overlaps),
10 % opaque so early densification can tell useful Gaussians from clutter.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor

SH_C0 = 0.28209479177387814
"""The degree-0 SH basis constant: colour = SH_C0 * f_dc + 0.5."""
INITIAL_OPACITY = 0.1
NEIGHBOURS = 3
DISTANCE_ROWS_PER_CHUNK = 2048


def mean_neighbour_distance(points: Tensor) -> Tensor:
    """(P,) mean distance of each point to its ``NEIGHBOURS`` nearest others (chunked cdist)."""
    k = min(NEIGHBOURS, points.shape[0] - 1)
    distances = []
    for start in range(0, points.shape[0], DISTANCE_ROWS_PER_CHUNK):
        block = torch.cdist(points[start : start + DISTANCE_ROWS_PER_CHUNK], points)
        nearest = block.topk(k + 1, dim=1, largest=False).values[:, 1:]
        distances.append(nearest.mean(dim=1))
    return torch.cat(distances)


def gaussians_from_points(
    points: npt.NDArray[np.float32], colors: npt.NDArray[np.float32], sh_degree: int, device: torch.device
) -> dict[str, Tensor]:
    """Parameter tensors named as gsplat's strategies expect (log scales, logit opacities)."""
    means = torch.as_tensor(points, dtype=torch.float32, device=device)
    count = means.shape[0]
    spacing = mean_neighbour_distance(means).clamp_min(1e-7)
    sh_rest = torch.zeros(count, (sh_degree + 1) ** 2 - 1, 3, device=device)
    quats = torch.zeros(count, 4, device=device)
    quats[:, 0] = 1.0
    return {
        "means": means,
        "scales": torch.log(spacing)[:, None].repeat(1, 3),
        "quats": quats,
        "opacities": torch.logit(torch.full((count,), INITIAL_OPACITY, device=device)),
        "sh0": ((torch.as_tensor(colors, device=device) - 0.5) / SH_C0)[:, None, :],
        "shN": sh_rest,
    }


def scene_scale(camera_centres: Tensor) -> float:
    """Radius of the camera rig (1.1 x max distance from its centre): gsplat's unit for lr and sizes."""
    centre = camera_centres.mean(dim=0)
    return float((camera_centres - centre).norm(dim=1).max()) * 1.1
