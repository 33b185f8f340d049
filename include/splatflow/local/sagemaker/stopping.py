"""Stopping a job's process as SageMaker stops a job: a signal, a grace period, then SIGKILL."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess

from splatflow.local.sagemaker.backends import Command


def stop_job_process(process: subprocess.Popen[str], command: Command, is_training: bool, grace: float) -> None:
    """Training gets ``docker stop -t 120`` (SIGTERM first); Processing gets SIGINT first, the
    signal AWS documents for stopping processing containers. The container gets its chance
    to checkpoint or clean up either way.
    """
    first = signal.SIGTERM if is_training else signal.SIGINT
    if command.container_name:
        docker = ["docker", "kill", "--signal", first.name, command.container_name]
        subprocess.run(docker, capture_output=True, check=False, env=command.environment)
    else:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, first)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        if command.container_name:
            docker = ["docker", "kill", "--signal", "SIGKILL", command.container_name]
            subprocess.run(docker, capture_output=True, check=False, env=command.environment)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
