"""What a run cost: SageMaker on-demand instance prices and the arithmetic the manifest needs.

The figure is an estimate shown to the user and kept in the manifest; it is never a guess. An
instance type missing from the table has no price (``None``), and the run's total is then
unknown rather than quietly too low.

Managed spot training needs no price of its own: SageMaker bills a spot job's
``BillableTimeInSeconds`` at the on-demand rate, and that figure is already below
``TrainingTimeInSeconds`` by the spot discount. Processing jobs bill their whole run.
"""

from __future__ import annotations

import math

# USD per instance-hour, SageMaker AI On-Demand, US East (N. Virginia), the same for Training and
# Processing jobs at these sizes. Source: https://aws.amazon.com/sagemaker/ai/pricing/ (On-Demand
# pricing tab), as published in 2025. Prices drift and differ by region: check the page before
# quoting a figure, update the table when they change, and treat every total as an estimate.
ON_DEMAND_USD_PER_HOUR: dict[str, float] = {
    # general purpose
    "ml.m5.large": 0.115,
    "ml.m5.xlarge": 0.23,
    "ml.m5.2xlarge": 0.461,
    "ml.m5.4xlarge": 0.922,
    # compute optimised (SfM and compression)
    "ml.c5.xlarge": 0.204,
    "ml.c5.2xlarge": 0.408,
    "ml.c5.4xlarge": 0.816,
    "ml.c6i.xlarge": 0.204,
    "ml.c6i.2xlarge": 0.408,
    "ml.c6i.4xlarge": 0.816,
    "ml.c6i.8xlarge": 1.632,
    # GPU: NVIDIA T4 (g4dn), A10G (g5)
    "ml.g4dn.xlarge": 0.736,
    "ml.g4dn.2xlarge": 0.94,
    "ml.g4dn.4xlarge": 1.505,
    "ml.g5.xlarge": 1.408,
    "ml.g5.2xlarge": 1.515,
    "ml.g5.4xlarge": 2.03,
}
PRICE_REGION = "us-east-1"


def hourly_price(instance_type: str) -> float | None:
    """The on-demand USD/hour of one instance, or None when the table does not know the type."""
    return ON_DEMAND_USD_PER_HOUR.get(instance_type)


def estimate_cost(instance_type: str, instance_count: int, billable_seconds: float) -> float | None:
    """USD for ``instance_count`` instances each billed ``billable_seconds``; None for an unknown type.

    ``billable_seconds`` is per instance, the way SageMaker reports ``BillableTimeInSeconds``.
    """
    if instance_count < 1:
        raise ValueError(f"instance_count must be at least 1, not {instance_count}")
    if not math.isfinite(billable_seconds) or billable_seconds < 0:
        raise ValueError(f"billable_seconds must be a finite, non-negative number, not {billable_seconds}")
    price = hourly_price(instance_type)
    if price is None:
        return None
    return price * instance_count * billable_seconds / 3600


def spot_savings(training_seconds: float, billable_seconds: float) -> float | None:
    """The fraction managed spot training saved (SageMaker's own formula), or None without a run time."""
    if training_seconds <= 0:
        return None
    return max(0.0, 1.0 - billable_seconds / training_seconds)
