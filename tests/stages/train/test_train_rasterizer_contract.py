"""The trainer drives gsplat's real ``rasterization`` and strategies with one layout for both.

gsplat returns packed meta (one row per visible camera-Gaussian pair) by default, and its
strategies read unpacked meta by default; a trainer that lets the two defaults meet crashes at
step 0 on a GPU. Here gsplat's own Python runs on the CPU (``gsplat_standin``), so the real
trainer, with the default and the MCMC strategy, packed and unpacked, meets exactly what it meets
on a T4, and a mismatch fails in this test instead of in a SageMaker job.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch
from gsplat.strategy import DefaultStrategy
from gsplat_standin import compute_relocation, gsplat_on_cpu

from splatflow.contract.train_settings import Settings
from splatflow.formats.cameras import camera_from_matrices
from splatflow.render import camera_tensors
from splatflow.stages.train import refinement
from splatflow.stages.train import trainer as trainer_module
from splatflow.stages.train.dataset import SceneData, View
from splatflow.stages.train.trainer import Trainer

WIDTH, HEIGHT = 32, 24
POINTS = 120
STEPS = 25
REFINE_EVERY = 10
MCMC_CAP = 300


def orbit_view(index: int, count: int, photo: np.ndarray) -> View:
    """A camera 4 units from the origin on a horizontal circle, looking at it."""
    angle = 2 * math.pi * index / count
    cos, sin = math.cos(angle), math.sin(angle)
    world_to_camera = np.array([[cos, 0, sin, 0], [0, 1, 0, 0], [-sin, 0, cos, 4], [0, 0, 0, 1]])
    intrinsics = [[30.0, 0.0, WIDTH / 2], [0.0, 30.0, HEIGHT / 2], [0.0, 0.0, 1.0]]
    camera = camera_from_matrices(f"view{index}.png", WIDTH, HEIGHT, intrinsics, world_to_camera)
    return View(camera=camera, photo=photo)


def small_scene() -> SceneData:
    generator = np.random.default_rng(7)
    views = [orbit_view(i, 5, generator.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)) for i in range(5)]
    return SceneData(
        training=views[:4],
        holdout=views[4:],
        points=(generator.random((POINTS, 3), dtype=np.float32) - 0.5) * 2.0,
        point_colors=generator.random((POINTS, 3), dtype=np.float32),
    )


def contract_settings(strategy: str, packed: bool) -> Settings:
    return Settings(
        preset="preview",
        device="cpu",
        packed=packed,
        strategy=strategy,  # type: ignore[arg-type]
        max_steps=STEPS,
        max_width=WIDTH,
        coarse_levels=0,
        eval_every=STEPS,
        plateau_start_step=10 * STEPS,
        checkpoint_every=10 * STEPS,
        progress_every=STEPS,
        sh_degree=1,
        sh_increase_every=10,
        refine_start_step=0,
        refine_stop_step=10 * STEPS,
        max_gaussians=MCMC_CAP if strategy == "mcmc" else 100 * POINTS,
    ).with_preset_defaults()


def train_through_gsplat(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any, strategy: str, packed: bool
) -> tuple[Trainer, Any]:
    rasterization = gsplat_on_cpu(monkeypatch)
    monkeypatch.setattr(trainer_module, "select_rasterizer", lambda device: rasterization)
    monkeypatch.setattr(refinement, "mcmc_runs_on", lambda device: True)
    trainer = Trainer(contract_settings(strategy, packed), small_scene(), torch.device("cpu"), tmp_path)
    trainer.strategy.refine_every = REFINE_EVERY  # refine within a short run (gsplat's default is 100)
    return trainer, trainer.run()


def test_the_stand_in_reproduces_the_crash_of_packed_meta_in_an_unpacked_strategy(monkeypatch):
    """The failure the production trainer had: gsplat's default layouts do not fit each other."""
    rasterization = gsplat_on_cpu(monkeypatch)
    view = small_scene().training[0]
    params = torch.nn.ParameterDict(
        {
            "means": torch.nn.Parameter(torch.as_tensor(small_scene().points)),
            "quats": torch.nn.Parameter(torch.tensor([[1.0, 0.0, 0.0, 0.0]]).repeat(POINTS, 1)),
            "scales": torch.nn.Parameter(torch.full((POINTS, 3), -2.5)),
            "opacities": torch.nn.Parameter(torch.zeros(POINTS)),
            "colors": torch.nn.Parameter(torch.rand(POINTS, 3)),
        }
    )
    strategy = DefaultStrategy()
    state = strategy.initialize_state(scene_scale=1.0)
    viewmat, intrinsics = camera_tensors(view.camera, torch.device("cpu"))
    image, _, meta = rasterization(
        params["means"],
        params["quats"],
        torch.exp(params["scales"]),
        torch.sigmoid(params["opacities"]),
        params["colors"],
        viewmat,
        intrinsics,
        WIDTH,
        HEIGHT,
    )
    strategy.step_pre_backward(params, {}, state, 0, meta)
    image.sum().backward()

    assert meta["means2d"].dim() == 2  # gsplat's default is packed: [nnz, 2]
    with pytest.raises(IndexError):
        strategy.step_post_backward(params, {}, state, 0, meta)  # its strategy's default: packed=False


@pytest.mark.parametrize("packed", [True, False], ids=["packed", "unpacked"])
def test_default_strategy_densifies_from_gsplats_meta_in_either_layout(monkeypatch, tmp_path, packed):
    trainer, result = train_through_gsplat(monkeypatch, tmp_path, "default", packed)

    state = trainer.strategy_state
    assert result.steps == STEPS and result.stop_reason == "max_steps"
    assert result.gaussians != POINTS  # refinement cloned, split or pruned
    assert state["count"].shape == (result.gaussians,)  # the strategy's state follows every refinement
    assert state["count"].sum() > 0  # visible Gaussians were counted since the last refinement
    assert math.isfinite(result.final.psnr)


@pytest.mark.parametrize("packed", [True, False], ids=["packed", "unpacked"])
def test_mcmc_strategy_relocates_and_adds_gaussians_from_gsplats_meta(monkeypatch, tmp_path, packed):
    _, result = train_through_gsplat(monkeypatch, tmp_path, "mcmc", packed)

    assert result.steps == STEPS and result.stop_reason == "max_steps"
    assert POINTS < result.gaussians <= MCMC_CAP  # MCMC adds 5 % per refinement, up to its cap
    assert math.isfinite(result.final.psnr)


def test_packed_and_unpacked_steps_give_the_same_gradients_and_densification_statistics(monkeypatch, tmp_path):
    """The layout changes bookkeeping, not the optimisation. (Compared before Adam's update, which
    turns the rounding noise of near-zero gradients into whole steps.)"""
    rasterization = gsplat_on_cpu(monkeypatch)
    monkeypatch.setattr(trainer_module, "select_rasterizer", lambda device: rasterization)
    trainers = {}
    for packed in (True, False):
        trainer = Trainer(contract_settings("default", packed), small_scene(), torch.device("cpu"), tmp_path)
        view = trainer.pick_view()
        image, meta = trainer.render(view.viewmat, view.intrinsics, view.width, view.height, trainer.sh_degree_now())
        trainer.strategy.step_pre_backward(trainer.params, trainer.optimizers, trainer.strategy_state, 0, meta)
        trainer.loss(image, view.photo).backward()
        trainer.refine(meta)
        trainers[packed] = trainer

    for name, value in trainers[True].params.items():
        torch.testing.assert_close(value.grad, trainers[False].params[name].grad, rtol=1e-4, atol=1e-8)
    for name in ("grad2d", "count"):
        torch.testing.assert_close(trainers[True].strategy_state[name], trainers[False].strategy_state[name])
    assert trainers[True].strategy_state["count"].sum() > 0


def test_relocation_stand_in_follows_the_cuda_kernel_loop():
    """Equation 9 as RelocationCUDA.cu loops over it, against the vectorised stand-in."""
    n_max = 8
    binoms = torch.tensor([[math.comb(n, k) if k <= n else 0 for k in range(n_max)] for n in range(n_max)]).float()
    opacities = torch.tensor([0.05, 0.3, 0.7, 0.95])
    scales = torch.rand(4, 3) + 0.1
    ratios = torch.tensor([1, 2, 5, 8])

    new_opacities, new_scales = compute_relocation(opacities, scales, ratios.clone(), binoms)

    for g in range(4):
        n = int(ratios[g])
        expected_opacity = 1.0 - (1.0 - float(opacities[g])) ** (1.0 / n)
        denominator = sum(
            math.comb(i - 1, k) * (-1) ** k / math.sqrt(k + 1) * expected_opacity ** (k + 1)
            for i in range(1, n + 1)
            for k in range(i)
        )
        assert float(new_opacities[g]) == pytest.approx(expected_opacity, rel=1e-5)
        torch.testing.assert_close(new_scales[g], float(opacities[g]) / denominator * scales[g])
