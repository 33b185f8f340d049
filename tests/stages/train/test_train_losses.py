"""The training loss: the photometric terms, the needle penalty, MCMC's regularisers."""

from __future__ import annotations

import math

import pytest
import torch

from splatflow.contract.train_settings import Settings
from splatflow.stages.train.losses import MCMC_OPACITY_REG, MCMC_SCALE_REG, anisotropy_penalty, training_loss
from splatflow.stages.train.metrics import ssim


def test_the_anisotropy_penalty_charges_only_gaussians_past_the_ratio_and_shortens_them() -> None:
    log_scales = torch.log(torch.tensor([[40.0, 1.0, 2.0], [1.0, 5.0, 10.0], [1.0, 1.0, 1.0], [3.0, 3.0, 3.0]]))
    log_scales.requires_grad_(True)

    penalty = anisotropy_penalty(log_scales, 10.0)
    penalty.backward()

    assert penalty.item() == pytest.approx(math.log(4.0) / 4, rel=1e-5), "only the 40:1 needle pays"
    grad = log_scales.grad
    assert grad is not None
    assert grad[0, 0] > 0 and grad[0, 1] < 0, "descent shortens its long axis and widens its short one"
    assert torch.count_nonzero(grad[1:]) == 0


def _params() -> torch.nn.ParameterDict:
    return torch.nn.ParameterDict(
        {
            "scales": torch.nn.Parameter(torch.log(torch.tensor([[40.0, 1.0, 2.0], [1.0, 1.0, 1.0]]))),
            "opacities": torch.nn.Parameter(torch.tensor([0.0, 2.0])),
        }
    )


def test_the_loss_weighs_l1_and_ssim_and_adds_the_needle_penalty_only_when_weighted() -> None:
    image, photo = torch.rand(16, 16, 3, generator=torch.Generator().manual_seed(0)), torch.full((16, 16, 3), 0.5)
    plain = Settings(preset="preview", ssim_weight=0.2, anisotropy_weight=0.0).with_preset_defaults()
    photometric = 0.8 * (image - photo).abs().mean() + 0.2 * (1 - ssim(image, photo))
    assert training_loss(image, photo, _params(), plain, mcmc=False).item() == pytest.approx(photometric.item())

    needles = Settings(preset="preview", ssim_weight=0.2, anisotropy_weight=0.5, max_anisotropy=10.0)
    penalty = anisotropy_penalty(_params()["scales"], 10.0)
    with_penalty = training_loss(image, photo, _params(), needles.with_preset_defaults(), mcmc=False)
    assert with_penalty.item() == pytest.approx((photometric + 0.5 * penalty).item())


def test_mcmc_adds_its_opacity_and_scale_regularisers() -> None:
    image = photo = torch.full((16, 16, 3), 0.5)
    settings = Settings(preset="preview", anisotropy_weight=0.0).with_preset_defaults()
    params = _params()
    extra = training_loss(image, photo, params, settings, mcmc=True) - training_loss(
        image, photo, params, settings, mcmc=False
    )
    expected = (
        MCMC_OPACITY_REG * torch.sigmoid(params["opacities"]).mean()
        + MCMC_SCALE_REG * torch.exp(params["scales"]).mean()
    )
    assert extra.item() == pytest.approx(expected.item(), rel=1e-5)
