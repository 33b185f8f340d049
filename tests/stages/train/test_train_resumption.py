"""Resuming and stopping: a checkpoint resumes only the training it came from, and SIGTERM saves
the current step and stops with a retryable code."""

from __future__ import annotations

import os
import signal
from dataclasses import replace

import numpy as np
import pytest
import torch

from splatflow.contract.train_settings import Settings
from splatflow.stages.harness import FailureCode, StageError
from splatflow.stages.train.checkpoints import save_checkpoint
from splatflow.stages.train.dataset import SceneData, load_scene
from splatflow.stages.train.resumption import checkpoint_and_stop, training_fingerprint
from splatflow.stages.train.stop_signal import StopSignal
from splatflow.stages.train.trainer import Trainer

SMALL = Settings(
    preset="preview", max_steps=12, max_width=64, eval_every=4, checkpoint_every=5, progress_every=4
).with_preset_defaults()
NO_VIEWS = SceneData([], [], np.zeros((30, 3), np.float32), np.zeros((30, 3), np.float32))


def test_the_fingerprint_ignores_what_only_paces_a_run_and_follows_everything_else() -> None:
    paced = replace(SMALL, progress_every=1, checkpoint_every=3, cpu_threads=1)
    assert training_fingerprint(paced, NO_VIEWS) == training_fingerprint(SMALL, NO_VIEWS)
    assert training_fingerprint(replace(SMALL, seed=1), NO_VIEWS) != training_fingerprint(SMALL, NO_VIEWS)
    fewer_points = replace(NO_VIEWS, points=NO_VIEWS.points[:10])
    assert training_fingerprint(SMALL, fewer_points) != training_fingerprint(SMALL, NO_VIEWS)


def test_a_stop_saves_its_step_once_and_raises_a_retryable_interruption(tmp_path) -> None:
    states = []

    def state() -> dict[str, int]:
        states.append(7)
        return {"step": 7}

    for _ in range(2):
        with pytest.raises(StageError, match="stopped at step 7 of 12; its checkpoint was written") as stopped:
            checkpoint_and_stop(tmp_path, 7, 12, state)
        assert stopped.value.code is FailureCode.SERVICE_INTERRUPTED and stopped.value.code.retry_may_help
    assert states == [7], "the second stop finds the step's checkpoint there and does not write it again"
    assert [p.name for p in tmp_path.iterdir()] == ["step-0000007.pt"]


def test_sigterm_checkpoints_the_current_step_and_a_resumed_job_continues_from_it(tmp_path, sfm_channel, monkeypatch):
    """SageMaker's stop (StopTrainingJob, MaxRuntimeInSeconds) is SIGTERM and 120 s: the loop ends
    its step, saves it and stops with a retryable code; the next job resumes there."""
    scene = load_scene(sfm_channel, SMALL.holdout_every, 64)
    original_step = Trainer.train_step

    def train_until_terminated(self: Trainer) -> float:
        if self.step == 7:
            os.kill(os.getpid(), signal.SIGTERM)
        return original_step(self)

    monkeypatch.setattr(Trainer, "train_step", train_until_terminated)
    before = signal.getsignal(signal.SIGTERM)  # not always SIG_DFL: an in-process Airflow task may have set one
    with StopSignal().installed() as stop, pytest.raises(StageError) as stopped:
        Trainer(SMALL, scene, torch.device("cpu"), tmp_path, stop).run()
    assert signal.getsignal(signal.SIGTERM) is before, "the stage's handler is removed once it is done"
    assert stopped.value.code is FailureCode.SERVICE_INTERRUPTED
    assert stopped.value.code.retry_may_help
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step-0000005.pt", "step-0000008.pt"]

    monkeypatch.setattr(Trainer, "train_step", original_step)
    resumed = Trainer(SMALL, scene, torch.device("cpu"), tmp_path)
    resumed.resume()
    assert resumed.step == 8
    assert resumed.run().steps == 12


def test_a_checkpoint_made_under_other_settings_is_never_resumed(tmp_path, sfm_channel):
    """A checkpoint folder holding another configuration's training (an older generation's, or the
    same run with changed settings) starts training afresh instead of restoring its step."""
    scene = load_scene(sfm_channel, SMALL.holdout_every, 64)
    first = Trainer(SMALL, scene, torch.device("cpu"), tmp_path)
    first.step = 5
    save_checkpoint(tmp_path, 5, first.checkpoint_state())

    same_but_paced_differently = replace(SMALL, progress_every=1, checkpoint_every=3, cpu_threads=1)
    resumed = Trainer(same_but_paced_differently, scene, torch.device("cpu"), tmp_path)
    resumed.resume()
    assert resumed.step == 5

    changed = Trainer(replace(SMALL, learning_rate_scale=2.0), scene, torch.device("cpu"), tmp_path)
    changed.resume()
    assert changed.step == 0
    assert list(tmp_path.iterdir()) == []
