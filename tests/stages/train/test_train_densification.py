"""``max_gaussians`` is an exact cap that leaves pruning and opacity resets running.

Each refine step is driven through ``Trainer.refine`` with the rasterizer's real output for one
training view; the screen-space gradients are scaled up so every Gaussian asks to grow, the worst
case for a cap.
"""

from __future__ import annotations

import math

import pytest
import torch

from splatflow.contract.train_settings import Settings
from splatflow.stages.train.dataset import load_scene
from splatflow.stages.train.trainer import Trainer

WIDTH = 64
ROOM = 3
"""How many Gaussians the cap leaves room for above the initial ones."""


@pytest.fixture
def trainer(tmp_path, sfm_channel) -> Trainer:
    probe = Settings(preset="preview", max_width=WIDTH).with_preset_defaults()
    scene = load_scene(sfm_channel, probe.holdout_every, WIDTH)
    initial = len(Trainer(probe, scene, torch.device("cpu"), tmp_path).params["means"])
    settings = Settings(
        preset="preview", max_width=WIDTH, max_gaussians=initial + ROOM, refine_start_step=0, refine_stop_step=10_000
    ).with_preset_defaults()
    return Trainer(settings, scene, torch.device("cpu"), tmp_path)


def refine_at(trainer: Trainer, step: int, gradient_scale: float = 1e6) -> None:
    """One real render and backward pass at ``step``, then the strategy's refine hook."""
    trainer.step = step
    view = trainer.pick_view()
    image, meta = trainer.render(view.viewmat, view.intrinsics, view.width, view.height, 0)
    trainer.strategy.step_pre_backward(trainer.params, trainer.optimizers, trainer.strategy_state, step, meta)
    trainer.loss(image, view.photo).backward()
    meta["means2d"].grad *= gradient_scale
    trainer.refine(meta)
    for optimizer in trainer.optimizers.values():
        optimizer.zero_grad(set_to_none=True)


def test_a_refine_step_grows_only_into_the_room_left_under_the_cap(trainer):
    cap = preset_cap(trainer)
    refine_at(trainer, 100)
    assert len(trainer.params["means"]) == cap


def test_at_the_cap_pruning_goes_on(trainer):
    cap = preset_cap(trainer)
    refine_at(trainer, 100)
    assert len(trainer.params["means"]) == cap
    with torch.no_grad():
        trainer.params["opacities"][:5] = -10.0  # sigmoid ~ 4.5e-5, under gsplat's prune_opa 0.005
    refine_at(trainer, 200)
    assert len(trainer.params["means"]) <= cap - 5


def test_at_the_cap_freed_room_is_grown_into_again(trainer):
    cap = preset_cap(trainer)
    refine_at(trainer, 100)
    with torch.no_grad():
        trainer.params["opacities"][:5] = -10.0
    refine_at(trainer, 200)
    refine_at(trainer, 300)
    assert len(trainer.params["means"]) == cap


def test_at_the_cap_opacities_are_still_reset_every_reset_interval(trainer):
    refine_at(trainer, 100)
    with torch.no_grad():
        trainer.params["opacities"].fill_(4.0)  # sigmoid ~ 0.98
    reset_every = trainer.strategy.reset_every
    refine_at(trainer, reset_every, gradient_scale=0.0)
    reset_value = 2.0 * trainer.strategy.prune_opa
    assert torch.sigmoid(trainer.params["opacities"]).max().item() == pytest.approx(reset_value, rel=1e-4)
    assert math.isclose(reset_value, 0.01)


def preset_cap(trainer: Trainer) -> int:
    assert trainer.settings.max_gaussians is not None
    return trainer.settings.max_gaussians
