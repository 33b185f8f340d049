"""Cost estimates: table lookups, instance counts, spot billing, and no guesses for unknown types."""

from __future__ import annotations

import math

import pytest

from splatflow.pipeline.pricing import ON_DEMAND_USD_PER_HOUR, estimate_cost, hourly_price, spot_savings


@pytest.mark.parametrize(
    "instance_type",
    ["ml.c6i.2xlarge", "ml.c6i.4xlarge", "ml.g4dn.xlarge", "ml.g4dn.2xlarge", "ml.g5.xlarge", "ml.m5.xlarge"],
)
def test_the_pipeline_default_and_common_instances_have_a_price(instance_type: str) -> None:
    price = hourly_price(instance_type)
    assert price is not None and 0.05 < price < 5.0


def test_every_price_is_for_a_sagemaker_instance_and_positive() -> None:
    for instance_type, price in ON_DEMAND_USD_PER_HOUR.items():
        assert instance_type.startswith("ml.")
        assert price > 0 and math.isfinite(price)


def test_gpu_training_costs_more_than_cpu_processing_for_the_same_time() -> None:
    gpu = estimate_cost("ml.g4dn.xlarge", 1, 3600)
    cpu = estimate_cost("ml.c6i.2xlarge", 1, 3600)
    assert gpu is not None and cpu is not None and gpu > cpu


def test_an_hour_costs_the_hourly_price_times_the_instances() -> None:
    price = ON_DEMAND_USD_PER_HOUR["ml.g4dn.xlarge"]
    assert estimate_cost("ml.g4dn.xlarge", 1, 3600) == pytest.approx(price)
    assert estimate_cost("ml.g4dn.xlarge", 2, 1800) == pytest.approx(price)
    assert estimate_cost("ml.g4dn.xlarge", 1, 0) == 0


def test_spot_billing_is_cheaper_through_the_billable_seconds() -> None:
    training_seconds, billable_seconds = 1000, 300
    on_demand = estimate_cost("ml.g4dn.xlarge", 1, training_seconds)
    spot = estimate_cost("ml.g4dn.xlarge", 1, billable_seconds)
    assert on_demand is not None and spot is not None
    assert spot == pytest.approx(on_demand * 0.3)
    assert spot_savings(training_seconds, billable_seconds) == pytest.approx(0.7)


def test_spot_savings_need_a_run_time() -> None:
    assert spot_savings(0, 0) is None
    assert spot_savings(100, 100) == 0


@pytest.mark.parametrize("instance_type", ["ml.p9.mega", "g4dn.xlarge", "ML.G4DN.XLARGE", ""])
def test_an_unknown_instance_type_has_no_price_rather_than_a_guess(instance_type: str) -> None:
    assert hourly_price(instance_type) is None
    assert estimate_cost(instance_type, 1, 3600) is None


@pytest.mark.parametrize(("count", "seconds"), [(0, 10), (-1, 10), (1, -5), (1, math.nan), (1, math.inf)])
def test_impossible_counts_and_durations_are_errors(count: int, seconds: float) -> None:
    with pytest.raises(ValueError):
        estimate_cost("ml.g4dn.xlarge", count, seconds)
