"""Adam's per-parameter learning rates over a run, and the optimisers that use them.

The 3DGS paper's rates, with the means' rate in units of the scene scale decaying to 1 % over the
run, and the boosted rates (``learning_rate_scale``) decaying back to the paper's: large steps to
converge early, small ones to settle. Both decay with the run's progress (``Budget.progress``), so
a run capped by minutes settles as one capped by steps does.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from splatflow.contract.train_settings import Settings, preset_value

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


def means_learning_rate(scene_scale: float, progress: float) -> float:
    """Exponential decay of the means' rate to 1 % over the run (as in 3DGS); ``progress`` in [0, 1]."""
    return BASE_LEARNING_RATES["means"] * scene_scale * MEANS_LR_FINAL_FRACTION**progress


def learning_rate(name: str, settings: Settings, scene_scale: float, progress: float) -> float:
    """Adam's rate for parameter ``name`` at ``progress`` (0 to 1) of the run."""
    if name == "means":
        return means_learning_rate(scene_scale, progress)
    if name not in SCALED_LEARNING_RATES:
        return BASE_LEARNING_RATES[name]
    boost = preset_value(settings.learning_rate_scale)
    return BASE_LEARNING_RATES[name] * boost ** (1.0 - progress)


def make_optimizers(
    params: torch.nn.ParameterDict, rate_of: Callable[[str], float]
) -> dict[str, torch.optim.Optimizer]:
    """One Adam per parameter (gsplat's strategies expect them by name), each at ``rate_of(name)``."""
    return {
        name: torch.optim.Adam([{"params": params[name], "lr": rate_of(name), "name": name}], eps=1e-15)
        for name in params
    }
