"""Which densification strategy a run gets, and when it refines."""

from __future__ import annotations

import pytest
import torch
from gsplat.strategy import MCMCStrategy

from splatflow.contract.train_settings import Settings
from splatflow.stages.harness import FailureCode, StageError
from splatflow.stages.train.densification import CappedDefaultStrategy
from splatflow.stages.train.refinement import initial_strategy_state, make_strategy


def test_the_default_strategy_is_capped_and_starts_refining_by_half_way_to_its_stop() -> None:
    settings = Settings(preset="preview", max_gaussians=5000, refine_start_step=500, refine_stop_step=600)
    strategy = make_strategy(settings.with_preset_defaults(), torch.device("cpu"))
    assert isinstance(strategy, CappedDefaultStrategy)
    assert (strategy.cap_max, strategy.refine_start_iter, strategy.refine_stop_iter) == (5000, 300, 600)
    assert "grad2d" in initial_strategy_state(strategy, 2.0)


def test_mcmc_on_a_cpu_is_refused_naming_the_strategy_that_runs_there() -> None:
    settings = Settings(preset="preview", strategy="mcmc").with_preset_defaults()
    with pytest.raises(StageError, match="strategy=mcmc needs a CUDA GPU; use strategy=default on CPU") as refused:
        make_strategy(settings, torch.device("cpu"))
    assert refused.value.code is FailureCode.NO_GPU


def test_mcmc_on_a_gpu_gets_gsplats_strategy_with_the_cap() -> None:
    settings = Settings(preset="preview", strategy="mcmc", max_gaussians=7000).with_preset_defaults()
    strategy = make_strategy(settings, torch.device("cuda"))
    assert isinstance(strategy, MCMCStrategy) and strategy.cap_max == 7000
