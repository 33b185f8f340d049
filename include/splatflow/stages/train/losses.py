"""The training loss: L1 and SSIM against the photo, plus the regularisers the settings ask for.

The photometric part is the 3DGS paper's ``(1 - w) * L1 + w * (1 - SSIM)``. The anisotropy
penalty is PhysGaussian's, on log scales so it is scale-free; MCMC adds gsplat's opacity and
scale regularisers, without which its relocation keeps large, faint Gaussians alive.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F  # noqa: N812 - the conventional alias
from torch import Tensor

from splatflow.contract.train_settings import Settings, preset_value
from splatflow.stages.train.metrics import ssim

MCMC_OPACITY_REG = 0.01
MCMC_SCALE_REG = 0.01


def anisotropy_penalty(log_scales: Tensor, max_anisotropy: float) -> Tensor:
    """Mean over the Gaussians of how far, in log, their largest-to-smallest axis ratio passes
    ``max_anisotropy``: a needle past the ratio pays, every other Gaussian pays nothing."""
    log_ratio = log_scales.max(dim=1).values - log_scales.min(dim=1).values
    return torch.relu(log_ratio - math.log(max_anisotropy)).mean()


def training_loss(
    image: Tensor, photo: Tensor, params: torch.nn.ParameterDict, settings: Settings, *, mcmc: bool
) -> Tensor:
    """The loss of one rendered view against its photo, with the regularisers over ``params``."""
    weight = preset_value(settings.ssim_weight)
    value = (1 - weight) * F.l1_loss(image, photo) + weight * (1 - ssim(image, photo))
    anisotropy_weight = preset_value(settings.anisotropy_weight)
    if anisotropy_weight > 0:
        value = value + anisotropy_weight * anisotropy_penalty(params["scales"], preset_value(settings.max_anisotropy))
    if mcmc:
        value = value + MCMC_OPACITY_REG * torch.sigmoid(params["opacities"]).mean()
        value = value + MCMC_SCALE_REG * torch.exp(params["scales"]).mean()
    return value
