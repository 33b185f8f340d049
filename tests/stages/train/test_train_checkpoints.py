"""A job killed after a checkpoint continues from that step when restarted."""

from __future__ import annotations

import pytest
import torch

from splatflow.contract.train_settings import PREVIEW, Settings
from splatflow.stages.train.checkpoints import save_checkpoint
from splatflow.stages.train.dataset import load_scene
from splatflow.stages.train.trainer import Trainer

SMALL = Settings(
    preset="preview", max_steps=12, max_width=64, eval_every=4, checkpoint_every=5, progress_every=4
).with_preset_defaults()


class SimulatedKillError(Exception):
    """Stands in for the spot interruption that ends the process."""


def test_restart_resumes_from_the_latest_checkpoint(tmp_path, sfm_channel, monkeypatch):
    scene = load_scene(sfm_channel, SMALL.holdout_every, 64)
    original_step = Trainer.train_step
    saved: dict[str, torch.Tensor] = {}

    def train_until_killed(self: Trainer) -> float:
        if self.step == 7:
            raise SimulatedKillError
        if self.step == 5:
            saved.update({k: v.detach().clone() for k, v in self.params.items()})
        return original_step(self)

    monkeypatch.setattr(Trainer, "train_step", train_until_killed)
    with pytest.raises(SimulatedKillError):
        Trainer(SMALL, scene, torch.device("cpu"), tmp_path).run()
    assert [p.name for p in tmp_path.iterdir()] == ["step-0000005.pt"]

    monkeypatch.setattr(Trainer, "train_step", original_step)
    restarted = Trainer(SMALL, scene, torch.device("cpu"), tmp_path)
    restarted.resume()
    assert restarted.step == 5
    for name, value in saved.items():
        torch.testing.assert_close(restarted.params[name].detach(), value, rtol=0, atol=0)
    result = restarted.run()
    assert result.steps == 12
    assert [step for step, _ in result.psnr_history] == [4, 8, 12]


def test_preview_preset_is_what_a_bare_preview_request_gets():
    assert Settings(preset="preview").with_preset_defaults() == PREVIEW


def test_a_checkpoint_being_written_is_in_the_synced_folder_under_no_name(tmp_path, monkeypatch):
    """SageMaker uploads whatever the checkpoint folder holds; a file still being written must not
    be there to upload, under its final name or any other."""
    seen_while_writing: list[list[str]] = []
    real_save = torch.save

    def save_and_look(state: object, stream: object) -> None:
        real_save(state, stream)  # type: ignore[arg-type]
        seen_while_writing.append(sorted(p.name for p in tmp_path.iterdir()))

    save_checkpoint(tmp_path, 5, {"step": 5})
    monkeypatch.setattr(torch, "save", save_and_look)
    save_checkpoint(tmp_path, 10, {"step": 10})

    assert seen_while_writing == [["step-0000005.pt"]]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step-0000005.pt", "step-0000010.pt"]
    assert torch.load(tmp_path / "step-0000010.pt", weights_only=False) == {"step": 10}
