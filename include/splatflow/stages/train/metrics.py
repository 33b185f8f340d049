"""Quality measures for held-out evaluation: PSNR, SSIM and mean colour error on (H, W, 3) images in
[0, 1], and the needle measure of a model's Gaussians.

SSIM uses the standard 11x11 Gaussian window (sigma 1.5) of Wang et al., the variant 3DGS papers
report, and doubles as the structural term of the training loss. LPIPS needs downloaded network
weights, which a job may not fetch at run time, so it is not reported.

Why SSIM is our own and not a library's: the maintained implementations on PyPI compute a
different SSIM. ``pytorch-msssim`` 1.0.0 convolves with ``padding=0`` and ``torchmetrics`` 1.9.0
reflect-pads and then crops the border, so both average the SSIM map over the windows that lie
wholly inside the image (Wang et al.'s "valid" SSIM, which gsplat's example trainer reports
through torchmetrics). Ours is the map the original 3DGS code trains with and reports
(graphdeco-inria/gaussian-splatting, ``utils/loss_utils.py``: ``F.conv2d(..., padding=window_size
// 2)``): zero padding, every pixel's window counted, so our held-out SSIM is comparable with that
code's figures and with this project's earlier ones. On our test images the libraries differ from
ours by 0.226 (the 32 px grey/noise pair of ``test_train_outputs``), 0.02 to 0.07 at 96 px, 0.01 to
0.02 at 320 px and 0.001 to 0.004 at 1600 px, past the 1e-4 we would accept as one measure
(``test_train_metrics`` holds ours to an independent zero-padded reference within 1e-5), and the
libraries differ from each other by up to 0.016; so the swap was not made.
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


def _gaussian_taps(device: torch.device, dtype: torch.dtype) -> Tensor:
    offsets = torch.arange(SSIM_WINDOW, dtype=dtype, device=device) - SSIM_WINDOW // 2
    weights = torch.exp(-(offsets**2) / (2 * SSIM_SIGMA**2))
    return weights / weights.sum()


def _blur(images: Tensor) -> Tensor:
    """The 11x11 Gaussian window as two 11-tap passes (it is separable): ~5x fewer operations
    than the 2-D convolution, which made SSIM a fifth of a CPU training step."""
    channels = images.shape[1]
    taps = _gaussian_taps(images.device, images.dtype)
    horizontal = taps.expand(channels, 1, 1, SSIM_WINDOW)
    rows = F.conv2d(images, horizontal, padding=(0, SSIM_WINDOW // 2), groups=channels)
    return F.conv2d(rows, horizontal.transpose(2, 3), padding=(SSIM_WINDOW // 2, 0), groups=channels)


def ssim(image: Tensor, reference: Tensor) -> Tensor:
    """Mean SSIM (differentiable) of two (H, W, 3) images."""
    x = image.permute(2, 0, 1)[None]
    y = reference.permute(2, 0, 1)[None]
    blurred = _blur(torch.cat([x, y, x * x, y * y, x * y], dim=1))
    mu_x, mu_y, xx, yy, xy = blurred.split(3, dim=1)
    var_x = xx - mu_x**2
    var_y = yy - mu_y**2
    cov = xy - mu_x * mu_y
    numerator = (2 * mu_x * mu_y + SSIM_C1) * (2 * cov + SSIM_C2)
    denominator = (mu_x**2 + mu_y**2 + SSIM_C1) * (var_x + var_y + SSIM_C2)
    return (numerator / denominator).mean()


def mean_colour_error(image: Tensor, reference: Tensor) -> float:
    """Largest per-channel difference of the two images' mean colours, in 8-bit steps.

    PSNR hides a colour cast (a tint is a small error spread evenly); this is the number a tint
    moves: a render a few steps bluer than its photo everywhere scores a few steps here.
    """
    difference = image.float().reshape(-1, 3).mean(dim=0) - reference.float().reshape(-1, 3).mean(dim=0)
    return float(difference.abs().max()) * 255.0


def anisotropy_percentile(log_scales: Tensor, percent: float = 99.0) -> float:
    """The ``percent``-th percentile over Gaussians of largest / smallest axis: the needle measure.

    A Gaussian far longer than it is wide draws a streak; 3DGS models on drone photos hold many
    with ratios in the hundreds, which the viewer shows as needles crossing the scene.
    """
    ratio = torch.exp(log_scales.max(dim=1).values - log_scales.min(dim=1).values)
    return float(torch.quantile(ratio.double(), percent / 100.0))
