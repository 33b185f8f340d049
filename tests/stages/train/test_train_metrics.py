"""SSIM is the map of the original 3DGS code: an 11x11 Gaussian window over every pixel, zero padded."""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812 - the conventional alias

from splatflow.stages.train.metrics import SSIM_C1, SSIM_C2, SSIM_SIGMA, SSIM_WINDOW, ssim


def _zero_padded_ssim_with_a_2d_window(image: torch.Tensor, reference: torch.Tensor) -> float:
    """An independent reference: the full 2-D window (not our two 1-D passes), zero padding, every
    pixel's window averaged; in float64."""
    x, y = (t.double().permute(2, 0, 1)[None] for t in (image, reference))
    offsets = torch.arange(SSIM_WINDOW, dtype=torch.float64) - SSIM_WINDOW // 2
    taps = torch.exp(-(offsets**2) / (2 * SSIM_SIGMA**2))
    window = torch.outer(taps, taps) / taps.sum() ** 2
    weights = window.expand(3, 1, SSIM_WINDOW, SSIM_WINDOW)

    def blur(z: torch.Tensor) -> torch.Tensor:
        return F.conv2d(z, weights, padding=SSIM_WINDOW // 2, groups=3)

    mu_x, mu_y = blur(x), blur(y)
    var_x, var_y, cov = blur(x * x) - mu_x**2, blur(y * y) - mu_y**2, blur(x * y) - mu_x * mu_y
    numerator = (2 * mu_x * mu_y + SSIM_C1) * (2 * cov + SSIM_C2)
    return float((numerator / ((mu_x**2 + mu_y**2 + SSIM_C1) * (var_x + var_y + SSIM_C2))).mean())


def test_ssim_is_the_zero_padded_same_size_map_of_the_original_3dgs_code() -> None:
    generator = torch.Generator().manual_seed(3)
    reference = torch.rand(40, 56, 3, generator=generator)
    image = (reference + 0.1 * torch.randn(40, 56, 3, generator=generator)).clamp(0, 1)
    expected = _zero_padded_ssim_with_a_2d_window(image, reference)
    assert abs(float(ssim(image, reference)) - expected) < 1e-5
    grey = torch.full((32, 32, 3), 0.5)
    noisy = (grey + 0.2 * torch.randn(32, 32, 3, generator=torch.Generator().manual_seed(1))).clamp(0, 1)
    assert abs(float(ssim(noisy, grey)) - _zero_padded_ssim_with_a_2d_window(noisy, grey)) < 1e-5
