"""Assemble the job runner: store, executor, service and HTTP server, from ``RunnerSettings``."""

from __future__ import annotations

import logging

from splatflow.local.aws_clients import aws_client
from splatflow.local.config import RunnerSettings
from splatflow.local.sagemaker.executor import SHUTDOWN_GRACE_SECONDS, JobExecutor
from splatflow.local.sagemaker.faults import FaultPlan
from splatflow.local.sagemaker.protocol import SageMakerServer
from splatflow.local.sagemaker.service import SageMakerService
from splatflow.local.sagemaker.store import JobStore

log = logging.getLogger(__name__)


class JobRunner:
    """A running SageMaker-compatible endpoint; ``stop()`` leaves job records on disk."""

    def __init__(self, settings: RunnerSettings, host: str = "127.0.0.1", port: int = 0) -> None:
        self.settings = settings
        store = JobStore(settings.jobs_dir)
        s3 = aws_client("s3", settings.aws_endpoint, settings.region)
        logs = aws_client("logs", settings.aws_endpoint, settings.region)
        self.executor = JobExecutor(settings, store, s3, logs)
        self.service = SageMakerService(store, self.executor, settings.region)
        self.service.recover_after_restart()
        self.faults = FaultPlan(settings.injected_api_faults)
        self.server = SageMakerServer(self.service, self.faults, host, port)

    @property
    def url(self) -> str:
        return self.server.url

    def start(self) -> None:
        self.server.start()
        if self.executor.use_docker:
            engine = self.settings.docker_host or "the docker client's default engine"
            how = f"in their stage images, as SageMaker runs them (engine: {engine})"
        else:
            how = "as processes of this Python (--backend docker runs them in their images)"
        log.info("SageMaker job runner on %s: jobs run %s", self.url, how)

    def stop(self) -> None:
        """Stop serving, then stop every job still running (their records end Stopped)."""
        self.server.stop()
        self.executor.stop_all(wait_seconds=SHUTDOWN_GRACE_SECONDS + 10)
