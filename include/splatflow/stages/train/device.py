"""The device a training job runs on, and a fast, plain failure when CUDA cannot start.

The training request states the device from the instance type (``splatflow.pipeline.requests``).
A ``cuda`` job never falls back to the CPU: a T4 job whose CUDA does not start would otherwise
train for hours on four vCPUs. Instead the stage fails within seconds with one line naming the
host's NVIDIA driver and the image's CUDA, the two facts that decide whether CUDA can start (the
entry point has already put NVIDIA's forward-compatibility libraries first where they apply).
"""

from __future__ import annotations

import importlib
import logging
import re
import subprocess
from pathlib import Path

import torch

from splatflow.contract.train_settings import DeviceChoice
from splatflow.stages.harness import FailureCode, StageError

log = logging.getLogger(__name__)

DRIVER_QUERY = ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader", "--id=0"]
DRIVER_QUERY_TIMEOUT_SECONDS = 20
KERNEL_MODULE_VERSION = Path("/proc/driver/nvidia/version")
"""Where the loaded NVIDIA kernel module names its version when nvidia-smi is missing."""
DRIVER_VERSION = re.compile(r"\b(\d{3,}\.\d+(?:\.\d+)?)\b")
OLDEST_FORWARD_COMPATIBLE_DRIVER = 535
"""NVIDIA's oldest driver branch that runs CUDA 13 through its forward-compatibility libraries."""


def host_driver_version() -> str | None:
    """The host's NVIDIA driver version (``"470.57.02"``), or ``None`` when no driver answers."""
    try:
        answer = subprocess.run(
            DRIVER_QUERY, capture_output=True, text=True, timeout=DRIVER_QUERY_TIMEOUT_SECONDS, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        answer = ""
    if not DRIVER_VERSION.search(answer) and KERNEL_MODULE_VERSION.is_file():
        answer = KERNEL_MODULE_VERSION.read_text(encoding="utf-8", errors="replace")
    found = DRIVER_VERSION.search(answer)
    return found.group(1) if found else None


def cuda_start_failure(driver: str | None, image_cuda: str | None, detail: str) -> str:
    """One line saying why CUDA did not start, naming the driver and the image's CUDA."""
    driver_text = f"NVIDIA driver {driver}" if driver else "no NVIDIA driver (nvidia-smi found none)"
    advice = (
        f"CUDA {image_cuda} needs driver 580 or newer, or {OLDEST_FORWARD_COMPATIBLE_DRIVER} or newer "
        "on a data-center GPU through the image's forward-compatibility libraries"
    )
    first_line = detail.strip().splitlines()[0] if detail.strip() else "no CUDA device is visible"
    return f"CUDA {image_cuda} could not start on this instance ({driver_text}): {first_line}; {advice}"


def _start_cuda() -> str | None:
    """``None`` when CUDA starts and sees a GPU, else what went wrong."""
    try:
        torch.cuda.init()
    except (RuntimeError, AssertionError) as error:
        return str(error)
    return None if torch.cuda.device_count() > 0 else "no CUDA device is visible"


def _load_gsplat_extension() -> str | None:
    """``None`` when gsplat's compiled CUDA extension loads, else why not. Without it gsplat would
    try to compile itself on first use, which a runtime image cannot (it has no nvcc)."""
    try:
        importlib.import_module("gsplat.csrc")
    except ImportError as error:
        return str(error)
    return None


def choose_device(choice: DeviceChoice) -> torch.device:
    """``torch.device`` for the requested device; a ``cuda`` job that cannot get one fails now."""
    if choice == "cpu":
        return torch.device("cpu")
    if torch.version.cuda is None:
        raise StageError(
            FailureCode.NO_GPU,
            f"the job asks for a GPU (device=cuda) but this image's PyTorch {torch.__version__} has no CUDA; "
            "use the CUDA build of the 3dgs image",
        )
    problem = _start_cuda()
    if problem is not None:
        raise StageError(FailureCode.NO_GPU, cuda_start_failure(host_driver_version(), torch.version.cuda, problem))
    extension_problem = _load_gsplat_extension()
    if extension_problem is not None:
        raise StageError(
            FailureCode.NO_GPU, f"gsplat's CUDA extension does not load in this image: {extension_problem}"
        )
    log.info(
        "CUDA %s on %s (NVIDIA driver %s)", torch.version.cuda, torch.cuda.get_device_name(0), host_driver_version()
    )
    return torch.device("cuda")
