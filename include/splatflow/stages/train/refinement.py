"""Which densification strategy refines the Gaussians, and how a training step calls it.

gsplat's strategies are pluggable objects with hook methods (``step_pre_backward``,
``step_post_backward``); ours are its ``MCMCStrategy`` and our capped ``DefaultStrategy``
(``densification``). MCMC relocates Gaussians with a gsplat CUDA kernel, so it needs a GPU.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import torch
from gsplat.strategy import DefaultStrategy, MCMCStrategy

from splatflow.contract.train_settings import Settings, preset_value
from splatflow.stages.harness import FailureCode, StageError
from splatflow.stages.train.densification import CappedDefaultStrategy

Strategy: TypeAlias = CappedDefaultStrategy | MCMCStrategy


def mcmc_runs_on(device: torch.device) -> bool:
    """MCMC relocates Gaussians with a gsplat CUDA kernel, which the CPU does not have."""
    return device.type == "cuda"


def make_strategy(settings: Settings, device: torch.device) -> Strategy:
    """The strategy the settings name, refining from ``refine_start_step`` (at most half way to
    ``refine_stop_step``, so a short run still densifies) and capped at ``max_gaussians``."""
    refine_stop = preset_value(settings.refine_stop_step)
    start = min(preset_value(settings.refine_start_step), refine_stop // 2)
    cap = preset_value(settings.max_gaussians)
    if settings.strategy == "mcmc":
        if not mcmc_runs_on(device):
            raise StageError(FailureCode.NO_GPU, "strategy=mcmc needs a CUDA GPU; use strategy=default on CPU")
        return MCMCStrategy(cap_max=cap, refine_start_iter=start, refine_stop_iter=refine_stop)
    return CappedDefaultStrategy(cap_max=cap, refine_start_iter=start, refine_stop_iter=refine_stop, reset_every=3000)


def initial_strategy_state(strategy: Strategy, scene_scale: float) -> dict[str, Any]:
    """The strategy's running statistics at step 0 (the default strategy measures in scene scales)."""
    if isinstance(strategy, DefaultStrategy):
        return strategy.initialize_state(scene_scale=scene_scale)
    return strategy.initialize_state()


def refine(
    strategy: Strategy,
    params: torch.nn.ParameterDict,
    optimizers: dict[str, torch.optim.Optimizer],
    state: dict[str, Any],
    step: int,
    meta: dict[str, Any],
    *,
    means_lr: float,
    packed: bool,
) -> None:
    """Let the strategy clone, split, prune or relocate Gaussians after the backward pass. MCMC
    needs the means' current rate (its relocation noise scales with it); the default strategy needs
    to know whether the rasterizer's ``meta`` is packed."""
    if isinstance(strategy, MCMCStrategy):
        strategy.step_post_backward(params, optimizers, state, step, meta, lr=means_lr)
        return
    strategy.step_post_backward(params, optimizers, state, step, meta, packed=packed)
