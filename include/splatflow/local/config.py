"""The embedded runtime's settings, in one typed place.

Defaults suit a laptop: loopback only, state under ``.local/`` in the working folder, the
three stages mapped by image repository name to their entry-point modules.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

DEFAULT_STAGE_MODULES: dict[str, str] = {
    "sfm": "splatflow.stages.sfm",
    "3dgs": "splatflow.stages.train",
    "compressor": "splatflow.stages.compress",
}
"""Image repository name (the last path part, without tag) -> the stage's entry-point module."""

Backend = Literal["subprocess", "docker"]


@dataclass(frozen=True)
class RunnerSettings:
    """How the SageMaker job runner runs jobs and where it keeps them."""

    state_dir: Path
    """Job records (``jobs/``) and job workspaces (``workspaces/``); survives restarts."""
    region: str = "us-east-1"
    aws_endpoint: str | None = None
    """S3 and CloudWatch Logs endpoint (the moto server); None means real AWS."""
    stage_modules: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_STAGE_MODULES))
    extra_python_path: tuple[Path, ...] = ()
    """Folders put on the stage processes' ``PYTHONPATH`` (tests add their own stages)."""
    backend: Backend = "subprocess"
    """``docker`` runs each job in its stage's image as SageMaker does (the proof); ``subprocess`` runs
    the stage's module with this Python (fast, for iteration)."""
    docker_host: str | None = None
    """``DOCKER_HOST`` for the docker backend (Podman's socket); None keeps the client's default."""
    max_parallel_jobs: int = max(1, (os.cpu_count() or 2) // 2)
    """Jobs beyond this wait InProgress/Starting, as on a busy account; protects a small machine."""
    stop_grace_seconds: float = 120.0
    """How long a stopped job gets after its stop signal before SIGKILL: SageMaker's ``docker stop -t 120``."""
    poll_seconds: float = 0.2
    checkpoint_sync_seconds: float = 2.0
    """How often a training job's checkpoint folder is copied to S3 while it runs."""
    injected_job_failures: dict[str, int] = field(default_factory=dict)
    """Fault injection for tests: image repository -> how many of its next jobs fail as a
    transient SageMaker error would (``InternalServerError``), before any container starts."""
    injected_api_faults: dict[str, tuple[str | None, ...]] = field(default_factory=dict)
    """Fault injection for tests: SageMaker operation (``CreateProcessingJob``) -> its next answers,
    in order: ``ThrottlingException`` (HTTP 400), ``InternalFailure`` (500) or ``ServiceUnavailable``
    (503) answers the call with that error as AWS sends it; None lets the call through. Calls
    past the end of the list are answered as usual."""

    @property
    def jobs_dir(self) -> Path:
        return self.state_dir / "jobs"

    @property
    def workspaces_dir(self) -> Path:
        return self.state_dir / "workspaces"
