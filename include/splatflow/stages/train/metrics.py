"""Image quality measures for held-out evaluation: PSNR and SSIM on (H, W, 3) images in [0, 1].

SSIM uses the standard 11x11 Gaussian window (sigma 1.5) of Wang et al., the variant 3DGS papers
report, and doubles as the structural term of the training loss. LPIPS needs downloaded network
weights, which a job may not fetch at run time, so it is not reported.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812 - the conventional alias
from torch import Tensor

SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_C1 = 0.01**2
SSIM_C2 = 0.03**2


def psnr(image: Tensor, reference: Tensor) -> float:
    mse = torch.mean((image.float() - reference.float()) ** 2).item()
    return float("inf") if mse == 0 else -10.0 * float(torch.log10(torch.tensor(mse)))


def _gaussian_window(device: torch.device, dtype: torch.dtype) -> Tensor:
    offsets = torch.arange(SSIM_WINDOW, dtype=dtype, device=device) - SSIM_WINDOW // 2
    weights = torch.exp(-(offsets**2) / (2 * SSIM_SIGMA**2))
    weights = weights / weights.sum()
    return (weights[:, None] * weights[None, :]).expand(3, 1, SSIM_WINDOW, SSIM_WINDOW)


def ssim(image: Tensor, reference: Tensor) -> Tensor:
    """Mean SSIM (differentiable) of two (H, W, 3) images."""
    x = image.permute(2, 0, 1)[None]
    y = reference.permute(2, 0, 1)[None]
    window = _gaussian_window(x.device, x.dtype)

    def blur(t: Tensor) -> Tensor:
        return F.conv2d(t, window, padding=SSIM_WINDOW // 2, groups=3)

    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x**2
    var_y = blur(y * y) - mu_y**2
    cov = blur(x * y) - mu_x * mu_y
    numerator = (2 * mu_x * mu_y + SSIM_C1) * (2 * cov + SSIM_C2)
    denominator = (mu_x**2 + mu_y**2 + SSIM_C1) * (var_x + var_y + SSIM_C2)
    return (numerator / denominator).mean()
