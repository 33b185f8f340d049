"""The training stage's ``main``: settings, data, training, model folder, in that order."""

from __future__ import annotations

import logging

from splatflow.contract.paths import SFM_CHANNEL
from splatflow.contract.train_settings import Settings, preset_value
from splatflow.stages.harness import FailureCode, MlPaths, StageError, read_settings, staged_output
from splatflow.stages.train.dataset import load_scene
from splatflow.stages.train.device import choose_device
from splatflow.stages.train.outputs import splats_from_parameters, write_model
from splatflow.stages.train.stop_signal import StopSignal
from splatflow.stages.train.trainer import Trainer

log = logging.getLogger(__name__)


def main(paths: MlPaths) -> None:
    with StopSignal().installed() as stop:
        train(paths, stop)


def train(paths: MlPaths, stop: StopSignal) -> None:
    """A SIGTERM from the start on (even while the scene loads) ends the run at the next step
    with a checkpoint (``stop_signal``)."""
    settings = read_settings(Settings, paths).with_preset_defaults()
    device = choose_device(settings.device)
    log.info("training on %s with the %s preset", device, settings.preset)
    channel = paths.channel(SFM_CHANNEL)
    if not channel.is_dir() or not any(channel.iterdir()):
        raise StageError(
            FailureCode.INPUT_MISSING, f"the '{SFM_CHANNEL}' input channel is empty; run the SfM stage first"
        )
    scene = load_scene(channel, settings.holdout_every, preset_value(settings.max_width))
    trainer = Trainer(settings, scene, device, paths.checkpoints, stop)
    result = trainer.run()
    splats = splats_from_parameters(
        dict(trainer.params),
        preset_value(settings.sh_degree),
        antialiased=preset_value(settings.rasterize_mode) == "antialiased",
    )
    with staged_output(paths.model) as folder:
        write_model(folder, splats, scene, result, settings, device.type)
    log.info(
        "model written: %d Gaussians, held-out PSNR %.2f dB (from %.2f), SSIM %.3f, %d steps, %s",
        result.gaussians,
        result.final.psnr,
        result.initial.psnr,
        result.final.ssim,
        result.steps,
        result.stop_reason,
    )
