"""The optimisation loop, one named step per concern.

``Trainer.run`` reads top to bottom: resume, then per step pick a view, render it, score it,
back-propagate, let the densification strategy refine, update parameters, and at fixed steps
evaluate, checkpoint and report progress. The same loop runs gsplat's CUDA rasterizer on a GPU
and the pure-PyTorch one on CPU (``splatflow.render.select_rasterizer``). What each step does
lives beside it: the rates (``learning_rates``), the loss (``losses``), the strategy
(``refinement``), the held-out figures (``evaluation``), resuming and stopping (``resumption``).
"""

from __future__ import annotations

import logging
import random
import time
from pathlib import Path
from typing import Any

import torch
from gsplat.strategy import MCMCStrategy
from torch import Tensor

from splatflow.contract.train_settings import Settings, preset_value
from splatflow.render import camera_tensors, select_rasterizer
from splatflow.render.sh import camera_centres
from splatflow.render.threads import use_cpu_threads
from splatflow.stages.harness import FailureCode, Progress, StageError
from splatflow.stages.train.checkpoints import load_latest_checkpoint, save_checkpoint
from splatflow.stages.train.dataset import SceneData
from splatflow.stages.train.evaluation import evaluate_views
from splatflow.stages.train.init import gaussians_from_points, scene_scale
from splatflow.stages.train.learning_rates import learning_rate, make_optimizers, means_learning_rate
from splatflow.stages.train.losses import training_loss
from splatflow.stages.train.metrics import anisotropy_percentile
from splatflow.stages.train.refinement import initial_strategy_state, make_strategy, refine
from splatflow.stages.train.results import EvaluationResult, TrainingResult, peak_memory_mb
from splatflow.stages.train.resumption import STOPPED_BY_SIGNAL, checkpoint_and_stop, training_fingerprint
from splatflow.stages.train.schedule import Budget, PlateauStopper, resolution_factor
from splatflow.stages.train.stop_signal import StopSignal
from splatflow.stages.train.views import ViewTensors, view_tensors

log = logging.getLogger(__name__)


class Trainer:
    def __init__(
        self,
        settings: Settings,
        scene: SceneData,
        device: torch.device,
        checkpoints: Path,
        stop: StopSignal | None = None,
    ) -> None:
        self.settings = settings
        self.stop = stop or StopSignal()
        self.scene = scene
        self.device = device
        self.checkpoints = checkpoints
        self.rasterize = select_rasterizer(device)
        if device.type == "cpu":
            use_cpu_threads(settings.cpu_threads)
        self.max_sh_degree = preset_value(settings.sh_degree)
        self.max_steps = preset_value(settings.max_steps)
        self.step = 0
        self.rng = random.Random(settings.seed)
        torch.manual_seed(settings.seed)
        centres = torch.stack([camera_centres(camera_tensors(v.camera, device)[0])[0] for v in scene.training])
        self.scene_scale = scene_scale(centres)
        parameters = gaussians_from_points(scene.points, scene.point_colors, self.max_sh_degree, device)
        self.params = torch.nn.ParameterDict({k: torch.nn.Parameter(v) for k, v in parameters.items()})
        self.budget = Budget(self.max_steps, preset_value(settings.max_minutes))
        self.optimizers = make_optimizers(self.params, self.learning_rate)
        self.strategy = make_strategy(settings, device)
        self.strategy_state: dict[str, Any] = initial_strategy_state(self.strategy, self.scene_scale)
        self.stopper = PlateauStopper(preset_value(settings.plateau_window), preset_value(settings.plateau_min_gain_db))
        self.psnr_history: list[tuple[int, float]] = []

    # --- set-up -----------------------------------------------------------------------------

    def means_learning_rate(self) -> float:
        return means_learning_rate(self.scene_scale, self.budget.progress(self.step))

    def learning_rate(self, name: str) -> float:
        """Adam's rate for parameter ``name`` at this point of the run (``learning_rates``)."""
        return learning_rate(name, self.settings, self.scene_scale, self.budget.progress(self.step))

    # --- one training step ------------------------------------------------------------------

    def sh_degree_now(self) -> int:
        return min(self.max_sh_degree, self.step // preset_value(self.settings.sh_increase_every))

    def pick_view(self) -> ViewTensors:
        """A random training view at this step's resolution; only its photo goes to the device."""
        view = self.scene.training[self.rng.randrange(len(self.scene.training))]
        factor = resolution_factor(
            self.step, preset_value(self.settings.coarse_levels), preset_value(self.settings.steps_per_level)
        )
        return view_tensors(view.camera, view.photo, factor, self.device)

    def render(
        self, viewmat: Tensor, intrinsics: Tensor, width: int, height: int, sh_degree: int
    ) -> tuple[Tensor, dict[str, Any]]:
        p = self.params
        colors, _, meta = self.rasterize(
            p["means"],
            p["quats"],
            torch.exp(p["scales"]),
            torch.sigmoid(p["opacities"]),
            torch.cat([p["sh0"], p["shN"]], dim=1),
            viewmat,
            intrinsics,
            width,
            height,
            sh_degree=sh_degree,
            packed=self.settings.packed,
            rasterize_mode=preset_value(self.settings.rasterize_mode),
        )
        return colors[0], meta

    def loss(self, image: Tensor, photo: Tensor) -> Tensor:
        mcmc = isinstance(self.strategy, MCMCStrategy)
        return training_loss(image, photo, self.params, self.settings, mcmc=mcmc)

    def refine(self, meta: dict[str, Any]) -> None:
        """Let the densification strategy clone, split, prune or relocate Gaussians."""
        refine(
            self.strategy,
            self.params,
            self.optimizers,
            self.strategy_state,
            self.step,
            meta,
            means_lr=self.means_learning_rate(),
            packed=self.settings.packed,
        )

    def update_parameters(self) -> None:
        for name, optimizer in self.optimizers.items():
            for group in optimizer.param_groups:
                group["lr"] = self.learning_rate(name)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

    def train_step(self) -> float:
        view = self.pick_view()
        image, meta = self.render(view.viewmat, view.intrinsics, view.width, view.height, self.sh_degree_now())
        loss = self.loss(image, view.photo)
        if not torch.isfinite(loss):
            raise StageError(
                FailureCode.DIVERGED,
                f"training diverged at step {self.step} (loss is {loss.item()}); "
                "try a lower-resolution preset or check the SfM output",
            )
        self.strategy.step_pre_backward(self.params, self.optimizers, self.strategy_state, self.step, meta)
        loss.backward()
        self.refine(meta)
        self.update_parameters()
        return float(loss.item())

    # --- evaluation, checkpoints ------------------------------------------------------------

    def evaluate(self, keep_renders: bool = False) -> EvaluationResult:
        sh_degree = self.sh_degree_now()

        def draw(viewmat: Tensor, intrinsics: Tensor, width: int, height: int) -> tuple[Tensor, dict[str, Any]]:
            return self.render(viewmat, intrinsics, width, height, sh_degree)

        return evaluate_views(self.scene.holdout, draw, self.device, keep_renders)

    def fingerprint(self) -> str:
        return training_fingerprint(self.settings, self.scene)

    def checkpoint_state(self) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint(),
            "step": self.step,
            "params": {k: v.detach() for k, v in self.params.items()},
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "strategy_state": self.strategy_state,
            "psnr_history": self.psnr_history,
            "elapsed_seconds": time.monotonic() - self.budget.started,
            "rng": self.rng.getstate(),
        }

    def resume(self) -> None:
        """Continue from the newest checkpoint, if a previous attempt left one."""
        state = load_latest_checkpoint(self.checkpoints, self.device, self.fingerprint())
        if state is None:
            return
        self.step = state["step"]
        self.params = torch.nn.ParameterDict({k: torch.nn.Parameter(v) for k, v in state["params"].items()})
        self.optimizers = make_optimizers(self.params, self.learning_rate)
        for name, optimizer in self.optimizers.items():
            optimizer.load_state_dict(state["optimizers"][name])
        self.strategy_state = state["strategy_state"]
        self.psnr_history = list(state["psnr_history"])
        self.stopper.history = [value for _, value in self.psnr_history]
        self.budget.started = time.monotonic() - state["elapsed_seconds"]
        self.rng.setstate(state["rng"])

    # --- the loop ---------------------------------------------------------------------------

    def stop_reason(self) -> str | None:
        if self.stop.requested:
            return STOPPED_BY_SIGNAL
        if self.step >= preset_value(self.settings.plateau_start_step) and self.stopper.plateaued():
            return "psnr_plateau"
        return self.budget.exhausted_by(self.step)

    def record_evaluation(self) -> float:
        value = self.evaluate().psnr
        self.psnr_history.append((self.step, value))
        self.stopper.record(value)
        return value

    def run(self) -> TrainingResult:
        self.resume()
        initial = self.evaluate()
        eval_every = preset_value(self.settings.eval_every)
        checkpoint_every = preset_value(self.settings.checkpoint_every)
        progress = Progress("train", "step", self.max_steps, every_seconds=0.0)
        progress.done = self.step
        progress_every = preset_value(self.settings.progress_every)
        started, started_step = time.monotonic(), self.step
        latest_psnr = self.psnr_history[-1][1] if self.psnr_history else initial.psnr
        try:
            while (reason := self.stop_reason()) is None:
                loss = self.train_step()
                self.step += 1
                if self.step % eval_every == 0:
                    latest_psnr = self.record_evaluation()
                if self.step % checkpoint_every == 0:
                    save_checkpoint(self.checkpoints, self.step, self.checkpoint_state())
                if self.step % progress_every == 0:
                    rate = (self.step - started_step) / max(1e-9, time.monotonic() - started)
                    progress.advance(
                        progress_every,
                        loss=loss,
                        psnr=latest_psnr,
                        gaussians=len(self.params["means"]),
                        steps_per_s=rate,
                    )
        except torch.cuda.OutOfMemoryError:
            raise StageError(
                FailureCode.OUT_OF_MEMORY,
                f"the GPU ran out of memory at step {self.step} with {len(self.params['means'])} Gaussians; "
                "lower max_gaussians or max_width, or use a larger instance",
            ) from None
        if reason == STOPPED_BY_SIGNAL:
            checkpoint_and_stop(self.checkpoints, self.step, self.max_steps, self.checkpoint_state)
        final = self.evaluate(keep_renders=True)
        log.info("stopped at step %d (%s): held-out PSNR %.2f dB", self.step, reason, final.psnr)
        return TrainingResult(
            steps=self.step,
            stop_reason=reason,
            seconds=time.monotonic() - self.budget.started,
            initial=initial,
            final=final,
            gaussians=len(self.params["means"]),
            peak_memory_mb=peak_memory_mb(self.device),
            psnr_history=self.psnr_history,
            anisotropy_p99=anisotropy_percentile(self.params["scales"].detach()),
        )
