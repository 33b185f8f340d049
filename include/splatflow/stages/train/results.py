"""What a training run reports: held-out figures at the start and the end, and the run's own."""

from __future__ import annotations

import resource
from dataclasses import dataclass, field

import torch
from torch import Tensor


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


def peak_memory_mb(device: torch.device) -> float:
    """The most memory the run held: the GPU's allocations on CUDA, the process's resident set on CPU."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
