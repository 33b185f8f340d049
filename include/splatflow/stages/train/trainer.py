"""The optimisation loop, one named step per concern.

``Trainer.run`` reads top to bottom: resume, then per step pick a view, render it, score it,
back-propagate, let the densification strategy refine, update parameters, and at fixed steps
evaluate, checkpoint and report progress. The same loop runs gsplat's CUDA rasterizer on a GPU
and the pure-PyTorch one on CPU (``splatflow.render.select_rasterizer``).
"""

from __future__ import annotations

import logging
import math
import random
import resource
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812 - the conventional alias
from gsplat.strategy import DefaultStrategy, MCMCStrategy
from torch import Tensor

from splatflow.contract.train_settings import Settings, preset_value
from splatflow.render import camera_tensors, select_rasterizer
from splatflow.render.sh import camera_centres
from splatflow.render.threads import use_cpu_threads
from splatflow.stages.harness import FailureCode, Progress, StageError
from splatflow.stages.train.checkpoints import checkpoint_path, fingerprint, load_latest_checkpoint, save_checkpoint
from splatflow.stages.train.dataset import SceneData
from splatflow.stages.train.densification import CappedDefaultStrategy
from splatflow.stages.train.init import gaussians_from_points, scene_scale
from splatflow.stages.train.metrics import anisotropy_percentile, mean_colour_error, psnr, ssim
from splatflow.stages.train.schedule import Budget, PlateauStopper, resolution_factor
from splatflow.stages.train.stop_signal import StopSignal
from splatflow.stages.train.views import ViewTensors, view_tensors

log = logging.getLogger(__name__)

BASE_LEARNING_RATES = {
    "means": 1.6e-4,
    "scales": 5e-3,
    "quats": 1e-3,
    "opacities": 5e-2,
    "sh0": 2.5e-3,
    "shN": 2.5e-3 / 20,
}
"""The 3DGS paper's per-parameter Adam rates (means in units of the scene scale)."""
SCALED_LEARNING_RATES = ("scales", "quats", "sh0", "shN")
"""The rates ``learning_rate_scale`` multiplies. Positions keep the paper's rate (larger ones
scatter Gaussians before densification can use them), opacities too (already fast: 0 to 1 in
a hundred steps)."""
MEANS_LR_FINAL_FRACTION = 0.01
MCMC_OPACITY_REG = 0.01
MCMC_SCALE_REG = 0.01
STOPPED_BY_SIGNAL = "stop_signal"
SETTINGS_NOT_FINGERPRINTED = frozenset({"cpu_threads", "progress_every", "checkpoint_every"})
"""Settings a resumed job may change: they pace the logs, checkpoints and threads, not the model."""


@dataclass
class EvaluationResult:
    psnr: float
    ssim: float
    colour_error: float
    """Mean over the held-out views of ``mean_colour_error`` (8-bit steps)."""
    renders: list[Tensor] = field(default_factory=list)
    """(H, W, 3) renders of the held-out views, in order, on CPU."""


@dataclass
class TrainingResult:
    steps: int
    stop_reason: str
    seconds: float
    initial: EvaluationResult
    final: EvaluationResult
    gaussians: int
    peak_memory_mb: float
    psnr_history: list[tuple[int, float]]
    anisotropy_p99: float
    """99th percentile of largest / smallest axis over the final Gaussians (the needle measure)."""


def mcmc_runs_on(device: torch.device) -> bool:
    """MCMC relocates Gaussians with a gsplat CUDA kernel, which the CPU does not have."""
    return device.type == "cuda"


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
        self.optimizers = self._make_optimizers()
        self.strategy = self._make_strategy()
        self.strategy_state: dict[str, Any] = (
            self.strategy.initialize_state(scene_scale=self.scene_scale)
            if isinstance(self.strategy, DefaultStrategy)
            else self.strategy.initialize_state()
        )
        self.stopper = PlateauStopper(preset_value(settings.plateau_window), preset_value(settings.plateau_min_gain_db))
        self.psnr_history: list[tuple[int, float]] = []

    # --- set-up -----------------------------------------------------------------------------

    def _make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        rates = {name: self.learning_rate(name) for name in BASE_LEARNING_RATES}
        return {
            name: torch.optim.Adam([{"params": self.params[name], "lr": rates[name], "name": name}], eps=1e-15)
            for name in self.params
        }

    def _make_strategy(self) -> CappedDefaultStrategy | MCMCStrategy:
        refine_stop = preset_value(self.settings.refine_stop_step)
        start = min(preset_value(self.settings.refine_start_step), refine_stop // 2)
        if self.settings.strategy == "mcmc":
            if not mcmc_runs_on(self.device):
                raise StageError(FailureCode.NO_GPU, "strategy=mcmc needs a CUDA GPU; use strategy=default on CPU")
            return MCMCStrategy(
                cap_max=preset_value(self.settings.max_gaussians), refine_start_iter=start, refine_stop_iter=refine_stop
            )
        return CappedDefaultStrategy(
            cap_max=preset_value(self.settings.max_gaussians),
            refine_start_iter=start,
            refine_stop_iter=refine_stop,
            reset_every=3000,
        )

    def means_learning_rate(self) -> float:
        """Exponential decay of the means' rate to 1 % over the run (as in 3DGS)."""
        base = BASE_LEARNING_RATES["means"] * self.scene_scale
        return base * MEANS_LR_FINAL_FRACTION ** self.budget.progress(self.step)

    def learning_rate(self, name: str) -> float:
        """Adam's rate for parameter ``name`` at this point of the run. The boosted rates decay
        exponentially to the paper's: large steps to converge early, small ones to settle."""
        if name == "means":
            return self.means_learning_rate()
        if name not in SCALED_LEARNING_RATES:
            return BASE_LEARNING_RATES[name]
        boost = preset_value(self.settings.learning_rate_scale)
        return BASE_LEARNING_RATES[name] * boost ** (1.0 - self.budget.progress(self.step))

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

    def anisotropy_penalty(self) -> Tensor:
        """Mean over the Gaussians of how far, in log, their largest-to-smallest axis ratio passes
        ``max_anisotropy`` (PhysGaussian's regulariser, on log scales so it is scale-free)."""
        log_scales = self.params["scales"]
        log_ratio = log_scales.max(dim=1).values - log_scales.min(dim=1).values
        limit = math.log(preset_value(self.settings.max_anisotropy))
        return torch.relu(log_ratio - limit).mean()

    def loss(self, image: Tensor, photo: Tensor) -> Tensor:
        weight = preset_value(self.settings.ssim_weight)
        value = (1 - weight) * F.l1_loss(image, photo) + weight * (1 - ssim(image, photo))
        anisotropy_weight = preset_value(self.settings.anisotropy_weight)
        if anisotropy_weight > 0:
            value = value + anisotropy_weight * self.anisotropy_penalty()
        if isinstance(self.strategy, MCMCStrategy):
            value = value + MCMC_OPACITY_REG * torch.sigmoid(self.params["opacities"]).mean()
            value = value + MCMC_SCALE_REG * torch.exp(self.params["scales"]).mean()
        return value

    def refine(self, meta: dict[str, Any]) -> None:
        """Let the densification strategy clone, split, prune or relocate Gaussians."""
        if isinstance(self.strategy, MCMCStrategy):
            self.strategy.step_post_backward(
                self.params, self.optimizers, self.strategy_state, self.step, meta, lr=self.means_learning_rate()
            )
            return
        self.strategy.step_post_backward(
            self.params, self.optimizers, self.strategy_state, self.step, meta, packed=self.settings.packed
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

    @torch.no_grad()
    def evaluate(self, keep_renders: bool = False) -> EvaluationResult:
        psnrs, ssims, colour_errors, renders = [], [], [], []
        for view in self.scene.holdout:
            tensors = view_tensors(view.camera, view.photo, 1.0, self.device)
            image, _ = self.render(
                tensors.viewmat, tensors.intrinsics, tensors.width, tensors.height, self.sh_degree_now()
            )
            image = image.clamp(0, 1)
            psnrs.append(psnr(image, tensors.photo))
            ssims.append(float(ssim(image, tensors.photo)))
            colour_errors.append(mean_colour_error(image, tensors.photo))
            if keep_renders:
                renders.append(image.cpu())
        count = len(psnrs)
        return EvaluationResult(sum(psnrs) / count, sum(ssims) / count, sum(colour_errors) / count, renders)

    def fingerprint(self) -> str:
        """What a checkpoint must have been trained from to be resumed: every setting but those that
        only pace the logs, checkpoints and threads, and the scene's size."""
        values = {k: v for k, v in asdict(self.settings).items() if k not in SETTINGS_NOT_FINGERPRINTED}
        scene = {
            "training_views": len(self.scene.training),
            "holdout_views": len(self.scene.holdout),
            "points": int(self.scene.points.shape[0]),
        }
        return fingerprint({"settings": values, "scene": scene})

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
        self.optimizers = self._make_optimizers()
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

    def checkpoint_and_stop(self) -> None:
        """Save this step (unless its checkpoint is there already) and end the job as interrupted,
        a code the pipeline retries: the next job of the run resumes from this step."""
        if self.step > 0 and not checkpoint_path(self.checkpoints, self.step).exists():
            save_checkpoint(self.checkpoints, self.step, self.checkpoint_state())
        raise StageError(
            FailureCode.SERVICE_INTERRUPTED,
            f"training was stopped at step {self.step} of {self.max_steps}; "
            "its checkpoint was written, so a resumed job continues from there",
        )

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
            self.checkpoint_and_stop()
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


def peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
