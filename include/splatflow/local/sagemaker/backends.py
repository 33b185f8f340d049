"""How a job's container runs locally: its entry point as a process of this Python (fast, for iteration).

The other way, ``docker run`` of the image as SageMaker runs it, is ``container.py``. Both produce a
command line; the executor runs either the same way (one process per job, its own process group,
stdout read line by line), so only the command differs.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

from splatflow.contract.paths import ML_ROOT_ENV
from splatflow.local.config import RunnerSettings
from splatflow.local.sagemaker.job_plans import JobPlan
from splatflow.local.sagemaker.workspace import Workspace


class BackendError(Exception):
    """The job cannot be started locally; the message becomes the job's FailureReason."""


@dataclass(frozen=True)
class Command:
    argv: list[str]
    environment: dict[str, str]
    container_name: str | None = None
    """Set for container runs, so a stop can address the container rather than the client."""


def image_repository_name(image: str) -> str:
    """``…/splatflow/sfm:abc`` or ``…/sfm@sha256:…`` -> ``sfm``."""
    without_digest = image.split("@", 1)[0]
    last = without_digest.rsplit("/", 1)[-1]
    return last.split(":", 1)[0]


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
