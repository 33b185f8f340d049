"""The embedded runtime plus the pipeline's settings, for running ``splat_pipeline`` with ``dag.test()``."""

from __future__ import annotations

import email
import email.policy
import io
import json
import os
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from splatflow.local.aws_clients import aws_client
from splatflow.local.config import RunnerSettings
from splatflow.local.containers.engine import Engine
from splatflow.local.runtime import EmbeddedRuntime, RuntimeSettings

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_PHOTOS = REPO_ROOT / "data" / "sample" / "brighton_beach"
UPLOADS = "splatflow-uploads"
WORK = "splatflow-work"

TEST_SIZED_SETTINGS = {
    "SPLATFLOW_TRAIN_HYPERPARAMETERS": json.dumps(
        {"preset": "preview", "max_steps": "40", "max_width": "96", "eval_every": "20", "progress_every": "10"}
    ),
    "SPLATFLOW_SFM_ARGUMENTS": json.dumps({"image_max_size": "480", "extraction_max_size": "480"}),
    "SPLATFLOW_INPUT_WAIT_SECONDS": "6",
    "SPLATFLOW_INPUT_GRACE_SECONDS": "3",
    "SPLATFLOW_INPUT_POKE_SECONDS": "2",
    "SPLATFLOW_CHECK_INTERVAL_SECONDS": "1",
    "SPLATFLOW_RETRY_DELAY_SECONDS": "1",
}
"""Small enough for CI on two cores; the stages and the DAG are the real ones."""


@contextmanager
def pipeline_environment(
    state: Path,
    injected_job_failures: dict[str, int] | None = None,
    injected_api_faults: dict[str, tuple[str | None, ...]] | None = None,
    engine: Engine | None = None,
) -> Iterator[EmbeddedRuntime]:
    """A started runtime whose endpoints and test-sized settings are in ``os.environ`` meanwhile.

    Jobs run as processes, or in their stage images under ``engine`` when one is given.
    """
    runner = RunnerSettings(
        state_dir=state / "sagemaker",
        backend="docker" if engine else "subprocess",
        docker_host=engine.docker_host if engine else None,
        max_parallel_jobs=2,
        injected_job_failures=injected_job_failures or {},
        injected_api_faults=injected_api_faults or {},
    )
    runtime = EmbeddedRuntime(
        RuntimeSettings(state_dir=state, aws_port=0, sagemaker_port=0, smtp_port=0, runner=runner)
    )
    runtime.start()
    saved = dict(os.environ)
    os.environ.update(runtime.environment())
    os.environ.update(TEST_SIZED_SETTINGS)
    try:
        yield runtime
    finally:
        os.environ.clear()
        os.environ.update(saved)
        runtime.stop()


@pytest.fixture(scope="module")
def pipeline_runtime(tmp_path_factory: pytest.TempPathFactory, airflow_db: Path) -> Iterator[EmbeddedRuntime]:
    with pipeline_environment(tmp_path_factory.mktemp("pipeline")) as runtime:
        yield runtime


def s3_of(runtime: EmbeddedRuntime) -> Any:
    return aws_client("s3", runtime.aws_url, "us-east-1")


def zip_photos(photos: list[Path]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for photo in photos:
            archive.write(photo, f"flight/{photo.name}")
    return buffer.getvalue()


def upload(runtime: EmbeddedRuntime, key: str, body: bytes) -> str:
    s3_of(runtime).put_object(Bucket=UPLOADS, Key=key, Body=body)
    return f"s3://{UPLOADS}/{key}"


def run_pipeline(conf: dict[str, Any]) -> Any:
    """Parse the DAG now (it reads the settings this module set) and run it once, in-process."""
    from airflow.models.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO_ROOT / "dags" / "splat_pipeline.py"))
    assert bag.import_errors == {}
    return bag.get_dag("splat_pipeline").test(run_conf=conf)


def mail_to(runtime: EmbeddedRuntime, address: str) -> list[EmailMessage]:
    messages = []
    for path in runtime.smtp.messages():
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        if message["To"] == address:
            messages.append(message)
    return messages


def html_of(message: EmailMessage) -> str:
    body = message.get_body(("html",))
    assert body is not None
    content: str = body.get_content()
    return content
