"""How many CPU threads the PyTorch path uses.

PyTorch's CPU kernels split every operation across OpenMP threads that meet at a barrier. When
another process holds one of the cores (Airflow's scheduler, the local job runner, a second
job), each operation waits for a descheduled thread: on a shared 2-core machine the rasterizer
ran 5x slower with 2 threads than with 1. Leaving one core to the rest of the machine avoids
that stall and costs little where there are many cores.
"""

from __future__ import annotations

import logging
import os

import torch

log = logging.getLogger(__name__)


def default_thread_count() -> int:
    """All usable cores but one, at least one."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, usable - 1)


def use_cpu_threads(requested: int) -> int:
    """Set PyTorch's intra-op threads (``requested``, or the default when 0); returns the count."""
    count = requested if requested > 0 else default_thread_count()
    torch.set_num_threads(count)
    log.info("PyTorch uses %d CPU thread(s)", count)
    return count
