"""Held-out figures of the current model: PSNR, SSIM and colour error over the held-out views."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from splatflow.stages.train.dataset import View
from splatflow.stages.train.metrics import mean_colour_error, psnr, ssim
from splatflow.stages.train.results import EvaluationResult
from splatflow.stages.train.views import view_tensors

Render = Callable[[Tensor, Tensor, int, int], tuple[Tensor, dict[str, Any]]]
"""Draw the model from (view matrix, intrinsics, width, height): the image and the rasterizer's meta."""


@torch.no_grad()
def evaluate_views(
    views: list[View], render: Render, device: torch.device, keep_renders: bool = False
) -> EvaluationResult:
    """The mean figures over ``views`` at full training resolution; the renders, on CPU, when kept."""
    psnrs, ssims, colour_errors, renders = [], [], [], []
    for view in views:
        tensors = view_tensors(view.camera, view.photo, 1.0, device)
        image, _ = render(tensors.viewmat, tensors.intrinsics, tensors.width, tensors.height)
        image = image.clamp(0, 1)
        psnrs.append(psnr(image, tensors.photo))
        ssims.append(float(ssim(image, tensors.photo)))
        colour_errors.append(mean_colour_error(image, tensors.photo))
        if keep_renders:
            renders.append(image.cpu())
    count = len(psnrs)
    return EvaluationResult(sum(psnrs) / count, sum(ssims) / count, sum(colour_errors) / count, renders)
