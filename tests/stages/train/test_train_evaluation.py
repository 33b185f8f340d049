"""Held-out figures: a model that draws each photo exactly scores perfectly, a tinted one by its tint."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch
from torch import Tensor

from splatflow.formats.cameras import camera_from_matrices
from splatflow.stages.train.dataset import View
from splatflow.stages.train.evaluation import evaluate_views

CAMERA = camera_from_matrices("a.jpg", 24, 16, [[20, 0, 12], [0, 20, 8], [0, 0, 1]], np.eye(4))
PHOTO = np.random.default_rng(0).integers(0, 256, size=(16, 24, 3), dtype=np.uint8)


def _drawing(offset: float) -> Any:
    def render(viewmat: Tensor, intrinsics: Tensor, width: int, height: int) -> tuple[Tensor, dict[str, Any]]:
        assert (width, height) == (24, 16), "held-out views are drawn at full training resolution"
        return torch.from_numpy(PHOTO).float() / 255 + offset, {}

    return render


def test_a_model_that_draws_the_photo_scores_perfectly_and_keeps_its_renders() -> None:
    result = evaluate_views([View(CAMERA, PHOTO)] * 2, _drawing(0.0), torch.device("cpu"), keep_renders=True)
    assert math.isinf(result.psnr) and result.ssim == pytest.approx(1.0) and result.colour_error == 0
    assert len(result.renders) == 2 and result.renders[0].shape == (16, 24, 3)


def test_a_tint_shows_in_the_colour_error_and_renders_are_not_kept_unless_asked() -> None:
    result = evaluate_views([View(CAMERA, PHOTO)], _drawing(-2 / 255), torch.device("cpu"))
    assert result.colour_error == pytest.approx(2.0, abs=0.05), "clamped at 0, a few pixels move less"
    assert result.renders == []
