"""A GPU job never trains on the CPU: CUDA that cannot start fails at once, in one line.

The line names the two facts that decide it, the host's NVIDIA driver (from ``nvidia-smi``, here
a fake answering as the real one does) and the CUDA the image's PyTorch was built for.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from splatflow.stages.harness import StageError
from splatflow.stages.train import device as device_module
from splatflow.stages.train.device import choose_device, cuda_start_failure, host_driver_version

# What torch 2.13 (CUDA 13.0) says on SageMaker's documented g4dn inference driver (470, CUDA 11.4).
OLD_DRIVER_ERROR = (
    "The NVIDIA driver on your system is too old (found version 11040). Please update your GPU driver by "
    "downloading and installing a new version from the URL: http://www.nvidia.com/Download/index.aspx\n"
    "Alternatively, go to: https://pytorch.org to install a PyTorch version that has been compiled with "
    "your version of the CUDA driver."
)


def fake_nvidia_smi(folder: Path, output: str, status: int = 0) -> str:
    """A PATH whose nvidia-smi answers the driver query like the real one."""
    script = folder / "nvidia-smi"
    script.write_text(
        "#!/bin/sh\n"
        'case "$*" in *--query-gpu=driver_version*--format=csv,noheader*) ;; *) exit 2;; esac\n'
        f"echo '{output}'\nexit {status}\n",
        encoding="utf-8",
    )
    script.chmod(0o755)
    return f"{folder}{os.pathsep}{os.environ['PATH']}"


def test_cpu_is_chosen_only_when_asked_for():
    assert choose_device("cpu") == torch.device("cpu")


def test_host_driver_version_comes_from_nvidia_smi(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", fake_nvidia_smi(tmp_path, "470.57.02"))

    assert host_driver_version() == "470.57.02"


def test_host_driver_version_falls_back_to_the_kernel_module(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", fake_nvidia_smi(tmp_path, "NVIDIA-SMI has failed because it couldn't communicate", 9))
    module_version = tmp_path / "version"
    module_version.write_text(
        "NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.230.02  Tue Jan  7 21:17:09 UTC 2025\n"
        "GCC version:  gcc version 7.3.1 20180712 (Red Hat 7.3.1-17) (GCC)\n"
    )
    monkeypatch.setattr(device_module, "KERNEL_MODULE_VERSION", module_version)

    assert host_driver_version() == "535.230.02"


def test_no_driver_at_all_is_none(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no nvidia-smi
    monkeypatch.setattr(device_module, "KERNEL_MODULE_VERSION", tmp_path / "absent")

    assert host_driver_version() is None


def test_the_failure_line_names_driver_image_cuda_and_the_way_out():
    line = cuda_start_failure("470.57.02", "13.0", OLD_DRIVER_ERROR)

    assert line == (
        "CUDA 13.0 could not start on this instance (NVIDIA driver 470.57.02): The NVIDIA driver on your system "
        "is too old (found version 11040). Please update your GPU driver by downloading and installing a new "
        "version from the URL: http://www.nvidia.com/Download/index.aspx; CUDA 13.0 needs driver 580 or newer, "
        "or 535 or newer on a data-center GPU through the image's forward-compatibility libraries"
    )
    assert "\n" not in line


def test_a_cuda_job_on_a_cpu_pytorch_fails_at_once(monkeypatch):
    monkeypatch.setattr(torch.version, "cuda", None)  # what the CPU image's PyTorch reports

    with pytest.raises(StageError, match=r"asks for a GPU \(device=cuda\) but this image's PyTorch .* has no CUDA"):
        choose_device("cuda")


def test_a_cuda_job_whose_cuda_does_not_start_names_the_driver(tmp_path, monkeypatch):
    """CUDA build of PyTorch, driver present, CUDA initialisation refused (what 470 does to CUDA 13)."""
    monkeypatch.setenv("PATH", fake_nvidia_smi(tmp_path, "470.57.02"))
    monkeypatch.setattr(torch.version, "cuda", "13.0")
    monkeypatch.setattr(torch.cuda, "init", lambda: (_ for _ in ()).throw(RuntimeError(OLD_DRIVER_ERROR)))

    with pytest.raises(StageError) as raised:
        choose_device("cuda")

    assert str(raised.value).startswith("CUDA 13.0 could not start on this instance (NVIDIA driver 470.57.02)")
