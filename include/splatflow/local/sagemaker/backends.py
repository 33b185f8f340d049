"""How a job's container runs locally: ``docker run`` of its image, or its entry point as a process.

Both produce a command line; the executor runs either the same way (one process per job, its
own process group, stdout read line by line), so only the command differs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from splatflow.contract.paths import ML_ROOT_ENV
from splatflow.local.config import RunnerSettings
from splatflow.local.sagemaker.plans import JobPlan
from splatflow.local.sagemaker.workspace import Workspace


class BackendError(Exception):
    """The job cannot be started locally; the message becomes the job's FailureReason."""


@dataclass(frozen=True)
class Command:
    argv: list[str]
    environment: dict[str, str]
    container_name: str | None = None
    """Set for docker runs, so a stop can address the container rather than the client."""


def image_repository_name(image: str) -> str:
    """``…/splatflow/sfm:abc`` or ``…/sfm@sha256:…`` -> ``sfm``."""
    without_digest = image.split("@", 1)[0]
    last = without_digest.rsplit("/", 1)[-1]
    return last.split(":", 1)[0]


def docker_engine_available() -> bool:
    """True when a Docker client is installed and its engine answers."""
    if shutil.which("docker") is None:
        return False
    try:
        result = subprocess.run(["docker", "info"], capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def subprocess_command(plan: JobPlan, workspace: Workspace, settings: RunnerSettings) -> Command:
    """Run the image's stage module with the current Python, ``/opt/ml`` re-rooted to the workspace."""
    if plan.entrypoint:
        raise BackendError(
            "ContainerEntrypoint is not supported when jobs run as local processes; "
            "use the image's own entry point (or run the runner with a Docker engine)"
        )
    repository = image_repository_name(plan.image)
    module = settings.stage_modules.get(repository)
    if module is None:
        known = ", ".join(sorted(settings.stage_modules))
        raise BackendError(
            f"CannotStartContainerError: no local stage for image {plan.image} "
            f"(repository '{repository}'; known: {known})"
        )
    environment = {
        **os.environ,
        **plan.environment,
        ML_ROOT_ENV: str(workspace.root),
        "PYTHONUNBUFFERED": "1",
    }
    if settings.extra_python_path:
        extra = os.pathsep.join(str(p) for p in settings.extra_python_path)
        existing = environment.get("PYTHONPATH")
        environment["PYTHONPATH"] = f"{extra}{os.pathsep}{existing}" if existing else extra
    return Command([sys.executable, "-m", module, *plan.arguments], environment)


def docker_command(plan: JobPlan, workspace: Workspace, job_name: str, is_training: bool) -> Command:
    """``docker run`` the job's image with the workspace mounted at ``/opt/ml``, as SageMaker does."""
    name = f"splatflow-{job_name}"
    argv = ["docker", "run", "--rm", "--name", name, "-v", f"{Path(workspace.root).resolve()}:/opt/ml"]
    if plan.network_isolation:
        argv += ["--network", "none"]
    for key, value in plan.environment.items():
        argv += ["-e", f"{key}={value}"]
    if plan.entrypoint:
        argv += ["--entrypoint", plan.entrypoint[0]]
    argv.append(plan.image)
    if plan.entrypoint:
        argv += plan.entrypoint[1:]
    # SageMaker starts training images as `docker run <image> train`.
    argv += ["train"] if is_training else plan.arguments
    return Command(argv, dict(os.environ), container_name=name)
