"""A stage job that fails once with a transient error succeeds on the task's retry, under a new name."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from pipeline_support import mail_to, pipeline_environment, run_pipeline, upload
from synthetic_scene import synthetic_scene

from splatflow.formats.ply import write_ply
from splatflow.local.aws_clients import aws_client
from splatflow.local.runtime import EmbeddedRuntime
from splatflow.pipeline.requests import job_name

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def flaky_runtime(tmp_path_factory: pytest.TempPathFactory, airflow_db: Path) -> Iterator[EmbeddedRuntime]:
    with pipeline_environment(tmp_path_factory.mktemp("flaky"), injected_job_failures={"compressor": 1}) as runtime:
        yield runtime


def _ply_bytes() -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "scene.ply"
        write_ply(synthetic_scene(500, sh_degree=0, seed=3), path)
        return path.read_bytes()


def test_transient_failure_is_retried_under_a_new_job_name(flaky_runtime: EmbeddedRuntime) -> None:
    url = upload(flaky_runtime, "models/scene.ply", _ply_bytes())

    run = run_pipeline({"steps": "compress_only", "model_url": url, "email": "retry@example.com"})

    assert run.state == "success"
    assert flaky_runtime.runner is not None
    sagemaker = aws_client("sagemaker", flaky_runtime.runner.url, "us-east-1")
    jobs = sagemaker.list_processing_jobs(
        NameContains=job_name(run.run_id, "compress"), SortBy="CreationTime", SortOrder="Ascending"
    )["ProcessingJobSummaries"]
    assert [job["ProcessingJobStatus"] for job in jobs] == ["Failed", "Completed"]
    first, second = (job["ProcessingJobName"] for job in jobs)
    assert second.startswith(first + "-") and len(second) <= 63, "the retry ran under a new, unique name"
    assert "injected" in sagemaker.describe_processing_job(ProcessingJobName=first)["FailureReason"]
    messages = mail_to(flaky_runtime, "retry@example.com")
    assert [m["Subject"] for m in messages] == ["Your 3D splat of scene.ply is ready"]
