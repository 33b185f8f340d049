"""What a run reports about itself."""

from __future__ import annotations

import resource

import torch

from splatflow.stages.train.results import peak_memory_mb


def test_on_cpu_the_peak_memory_is_the_processs_resident_set_in_mb() -> None:
    assert peak_memory_mb(torch.device("cpu")) == resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
