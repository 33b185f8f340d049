"""Which SageMaker instance types carry NVIDIA GPUs.

Both sides need the answer: the training request picks the stage's ``device`` from it (``cuda`` on
a GPU instance, so a job that cannot start CUDA fails at once rather than training for hours on the
CPU), and the local job runner gives a container the host's GPUs only for such a type, as SageMaker
attaches GPUs only to GPU instances.
"""

from __future__ import annotations

import re

GPU_INSTANCE_TYPE = re.compile(r"^ml\.[gp]\d")
"""SageMaker's NVIDIA GPU families (ml.g4dn, g5, g6, g6e, p3, p4d, p5, ...)."""


def is_gpu_instance(instance_type: str) -> bool:
    """An instance type with NVIDIA GPUs."""
    return GPU_INSTANCE_TYPE.match(instance_type) is not None
