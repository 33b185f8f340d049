"""Adam's rates over a run: the means' decay to 1 %, the boosted rates' decay back to the paper's."""

from __future__ import annotations

import pytest
import torch

from splatflow.contract.train_settings import Settings
from splatflow.stages.train.learning_rates import (
    BASE_LEARNING_RATES,
    learning_rate,
    make_optimizers,
    means_learning_rate,
)

BOOSTED = Settings(preset="preview", learning_rate_scale=4.0).with_preset_defaults()


def test_the_means_rate_is_in_scene_units_and_decays_to_one_percent_over_the_run() -> None:
    assert means_learning_rate(2.5, 0.0) == pytest.approx(BASE_LEARNING_RATES["means"] * 2.5)
    assert means_learning_rate(2.5, 1.0) == pytest.approx(BASE_LEARNING_RATES["means"] * 2.5 * 0.01)
    assert means_learning_rate(2.5, 0.5) == pytest.approx(BASE_LEARNING_RATES["means"] * 2.5 * 0.1)


@pytest.mark.parametrize("name", ["scales", "quats", "sh0", "shN"])
def test_a_boosted_rate_starts_at_the_boost_and_settles_at_the_papers(name: str) -> None:
    assert learning_rate(name, BOOSTED, 1.0, 0.0) == pytest.approx(BASE_LEARNING_RATES[name] * 4.0)
    assert learning_rate(name, BOOSTED, 1.0, 0.5) == pytest.approx(BASE_LEARNING_RATES[name] * 2.0)
    assert learning_rate(name, BOOSTED, 1.0, 1.0) == pytest.approx(BASE_LEARNING_RATES[name])


def test_the_opacities_keep_the_papers_rate_whatever_the_boost() -> None:
    assert {learning_rate("opacities", BOOSTED, 3.0, p) for p in (0.0, 0.5, 1.0)} == {BASE_LEARNING_RATES["opacities"]}


def test_each_parameter_gets_its_own_adam_at_its_own_rate() -> None:
    params = torch.nn.ParameterDict({name: torch.nn.Parameter(torch.zeros(2, 3)) for name in ("means", "sh0")})
    optimizers = make_optimizers(params, {"means": 0.1, "sh0": 0.2}.__getitem__)
    assert {name: o.param_groups[0]["lr"] for name, o in optimizers.items()} == {"means": 0.1, "sh0": 0.2}
    assert optimizers["sh0"].param_groups[0]["params"][0] is params["sh0"]
    assert optimizers["sh0"].param_groups[0]["name"] == "sh0", "gsplat's strategies find the group by name"
