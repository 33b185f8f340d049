"""The training loop on CPU: it learns the scene, and stops early once held-out PSNR plateaus."""

from __future__ import annotations

import math

import pytest
import torch

from splatflow.contract.train_settings import Settings
from splatflow.stages.train.dataset import load_scene
from splatflow.stages.train.metrics import anisotropy_percentile
from splatflow.stages.train.trainer import Trainer

WIDTH = 96


def small_settings(**overrides: object) -> Settings:
    base = {"preset": "preview", "max_width": WIDTH, "progress_every": 50, "checkpoint_every": 10_000}
    return Settings(**{**base, **overrides}).with_preset_defaults()  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("plateau_start_step", "stopped_at"),
    [
        (0, 10),  # two evaluations are the least a window of one can compare
        (22, 22),  # plateaued since step 10, but the test is only made from step 22 on
    ],
)
def test_training_stops_when_held_out_psnr_plateaus_but_not_before_the_start_step(
    tmp_path, sfm_channel, plateau_start_step, stopped_at
):
    settings = small_settings(
        max_steps=200, eval_every=5, plateau_window=1, plateau_min_gain_db=50.0, plateau_start_step=plateau_start_step
    )
    scene = load_scene(sfm_channel, settings.holdout_every, WIDTH)

    result = Trainer(settings, scene, torch.device("cpu"), tmp_path).run()

    assert result.stop_reason == "psnr_plateau"
    assert result.steps == stopped_at


@pytest.mark.slow
def test_training_raises_held_out_psnr_clearly_above_the_initial_model(tmp_path, sfm_channel):
    settings = small_settings(max_steps=300, eval_every=100, steps_per_level=100, refine_stop_step=250)
    scene = load_scene(sfm_channel, settings.holdout_every, WIDTH)

    result = Trainer(settings, scene, torch.device("cpu"), tmp_path).run()

    print(f"held-out PSNR {result.initial.psnr:.2f} -> {result.final.psnr:.2f} dB, {result.gaussians} Gaussians")
    assert result.stop_reason == "max_steps"
    assert result.final.psnr > result.initial.psnr + 3.0


def test_final_figures_include_the_needle_measure_and_the_colour_error(tmp_path, sfm_channel):
    settings = small_settings(max_steps=3, eval_every=100)
    scene = load_scene(sfm_channel, settings.holdout_every, WIDTH)
    result = Trainer(settings, scene, torch.device("cpu"), tmp_path).run()

    assert 1.0 <= result.anisotropy_p99 < 1.5, "the SfM points start as round Gaussians; 3 steps barely stretch them"
    assert 0 <= result.final.colour_error < 255


def test_the_preview_preset_pulls_needles_back_to_its_anisotropy_cap_within_a_short_run(tmp_path, sfm_channel):
    """Needle stars in the preview are splats far past the cap; the preset's penalty must win
    over the photometric loss quickly, not merely nudge them, for the cap to mean anything."""
    settings = small_settings(max_steps=60, eval_every=1000)
    trainer = Trainer(settings, load_scene(sfm_channel, settings.holdout_every, WIDTH), torch.device("cpu"), tmp_path)
    cap = settings.max_anisotropy
    assert cap is not None
    with torch.no_grad():
        needles = trainer.params["scales"][::5]
        needles[:, 0] += math.log(5 * cap)
        trainer.params["scales"][::5] = needles

    trainer.run()

    assert anisotropy_percentile(trainer.params["scales"].detach(), 90.0) <= cap * 1.2, (
        "the needles are back within the cap"
    )
