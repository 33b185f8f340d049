"""The embedded runtime: moto (S3, CloudWatch Logs), the SageMaker job runner and the SMTP sink.

One object starts all three on loopback, writes the Airflow connection environment to
``<state>/env`` and stops them again; ``python -m splatflow.local serve`` runs it in the
foreground, tests start it in-process.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

from moto.moto_server.threaded_moto_server import ThreadedMotoServer

from splatflow.local.aws_clients import aws_client
from splatflow.local.config import RunnerSettings
from splatflow.local.connections import connection_environment, write_env_file
from splatflow.local.sagemaker.runner import JobRunner
from splatflow.local.smtp_sink import SmtpSink

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RuntimeSettings:
    state_dir: Path = Path(".local")
    host: str = "127.0.0.1"
    """Loopback by default: nothing here authenticates requests."""
    aws_port: int = 4566
    sagemaker_port: int = 4567
    smtp_port: int = 1025
    region: str = "us-east-1"
    work_bucket: str = "splatflow-work"
    upload_bucket: str = "splatflow-uploads"
    """Created empty at start (moto keeps S3 in memory) and allowed for submissions."""
    check_interval_seconds: int = 2
    """Local jobs are short: poll them often so orchestration adds little to a run."""
    train_instance_type: str = "ml.m5.2xlarge"
    """A CPU instance type, so training runs on this machine's CPU (``ml.g4dn.xlarge`` asks for CUDA)."""
    runner: RunnerSettings | None = None
    """Overrides for the job runner (its state_dir and endpoint are filled in)."""

    @property
    def env_file(self) -> Path:
        return self.state_dir / "env"

    @property
    def mail_dir(self) -> Path:
        return self.state_dir / "mail"


class EmbeddedRuntime:
    def __init__(self, settings: RuntimeSettings) -> None:
        self.settings = settings
        self.moto = ThreadedMotoServer(ip_address=settings.host, port=settings.aws_port, verbose=False)
        self.runner: JobRunner | None = None
        self.smtp = SmtpSink(settings.mail_dir, settings.host, settings.smtp_port)

    @property
    def aws_url(self) -> str:
        host, port = self.moto.get_host_and_port()
        return f"http://{host}:{port}"

    def start(self) -> None:
        settings = self.settings
        self.moto.start()
        log.info("S3 and CloudWatch Logs (moto) on %s", self.aws_url)
        base = settings.runner or RunnerSettings(state_dir=settings.state_dir / "sagemaker")
        runner_settings = replace(base, aws_endpoint=self.aws_url, region=settings.region)
        self.runner = JobRunner(runner_settings, settings.host, settings.sagemaker_port)
        self.runner.start()
        s3 = aws_client("s3", self.aws_url, settings.region)
        for bucket in (settings.work_bucket, settings.upload_bucket):
            s3.create_bucket(Bucket=bucket)
        self.smtp.start()
        write_env_file(settings.env_file, self.environment())
        log.info("Airflow connections written to %s (source it before starting Airflow)", settings.env_file)

    def environment(self) -> dict[str, str]:
        """Airflow connections and pipeline settings that point the DAG at this runtime."""
        assert self.runner is not None, "start() first"
        settings = self.settings
        return {
            **connection_environment(self.aws_url, self.runner.url, self.smtp.host, self.smtp.port, settings.region),
            "SPLATFLOW_WORK_BUCKET": settings.work_bucket,
            "SPLATFLOW_ALLOWED_BUCKETS": settings.upload_bucket,
            "SPLATFLOW_CHECK_INTERVAL_SECONDS": str(settings.check_interval_seconds),
            # Training asks for the device its instance type has, and a GPU type asks for CUDA:
            # the runner's machines usually have none, so the local default is a CPU type.
            "SPLATFLOW_TRAIN_INSTANCE_TYPE": settings.train_instance_type,
        }

    def stop(self) -> None:
        self.smtp.stop()
        if self.runner is not None:
            self.runner.stop()
        self.moto.stop()
