"""GPU instance types, as the training request and the local runner both tell them apart."""

from __future__ import annotations

import pytest

from splatflow.contract.instances import is_gpu_instance


@pytest.mark.parametrize("instance_type", ["ml.g4dn.xlarge", "ml.g5.2xlarge", "ml.g6e.xlarge", "ml.p3.2xlarge"])
def test_nvidia_families_are_gpu_instances(instance_type: str) -> None:
    assert is_gpu_instance(instance_type)


@pytest.mark.parametrize("instance_type", ["ml.c6i.2xlarge", "ml.m5.large", "ml.trn1.2xlarge", "local", "ml.gx"])
def test_cpu_and_other_accelerator_families_are_not(instance_type: str) -> None:
    assert not is_gpu_instance(instance_type)
