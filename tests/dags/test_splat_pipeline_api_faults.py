"""A throttled and a 5xx-answering SageMaker API: the clients retry with backoff and the run succeeds.

The runner throttles the first two ``CreateProcessingJob`` calls (the SfM job, created by the
operator's boto3 client in the worker) and answers the fourth ``DescribeTrainingJob`` with
``InternalFailure`` and its retry with ``ServiceUnavailable``: the first three are the training
operator's own (is the name free? the hook's log check after creating the job; has it finished
already?), the fourth is the first poll of the deferred task's trigger, an aiobotocore client.
Both clients get botocore's standard retries from the ``aws_default`` connection extra, so
each call succeeds on a later attempt and no task retry, no second job and no second email
follows.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pipeline_support import SAMPLE_PHOTOS, mail_to, pipeline_environment, run_pipeline, upload, zip_photos

from splatflow.local.aws_clients import aws_client
from splatflow.local.runtime import EmbeddedRuntime
from splatflow.pipeline.requests import job_name

pytestmark = pytest.mark.slow

ADDRESS = "busy.account@example.com"
FAULTS: dict[str, tuple[str | None, ...]] = {
    "CreateProcessingJob": ("ThrottlingException", "ThrottlingException"),
    "DescribeTrainingJob": (None, None, None, "InternalFailure", "ServiceUnavailable"),
}


@pytest.fixture(scope="module")
def busy_runtime(tmp_path_factory: pytest.TempPathFactory, airflow_db: Path) -> Iterator[EmbeddedRuntime]:
    with pipeline_environment(tmp_path_factory.mktemp("busy"), injected_api_faults=FAULTS) as runtime:
        yield runtime


@pytest.fixture(scope="module")
def finished_run(busy_runtime: EmbeddedRuntime) -> Any:
    url = upload(busy_runtime, "busy/flight.zip", zip_photos(sorted(SAMPLE_PHOTOS.glob("*.JPG"))))
    return run_pipeline({"s3_url": url, "email": ADDRESS, "preset": "preview"})


def test_run_succeeds_with_one_email_despite_throttles_and_5xx(
    busy_runtime: EmbeddedRuntime, finished_run: Any
) -> None:
    assert finished_run.state == "success"
    assert [m["Subject"] for m in mail_to(busy_runtime, ADDRESS)] == ["Your 3D splat of flight.zip is ready"]


def test_each_stage_ran_one_job_because_the_clients_retried(busy_runtime: EmbeddedRuntime, finished_run: Any) -> None:
    assert busy_runtime.runner is not None
    sagemaker = aws_client("sagemaker", busy_runtime.runner.url, "us-east-1")
    for stage in ("sfm", "compress"):
        jobs = sagemaker.list_processing_jobs(NameContains=job_name(finished_run.run_id, stage))
        assert [j["ProcessingJobStatus"] for j in jobs["ProcessingJobSummaries"]] == ["Completed"], stage
    training = sagemaker.list_training_jobs(NameContains=job_name(finished_run.run_id, "train"))
    assert [j["TrainingJobStatus"] for j in training["TrainingJobSummaries"]] == ["Completed"]


def test_faults_reached_the_worker_and_the_trigger_clients_in_standard_retry_mode(
    busy_runtime: EmbeddedRuntime, finished_run: Any
) -> None:
    assert busy_runtime.runner is not None
    answered = busy_runtime.runner.faults.answered
    assert [(fault.operation, fault.code) for fault in answered] == [
        ("CreateProcessingJob", "ThrottlingException"),
        ("CreateProcessingJob", "ThrottlingException"),
        ("DescribeTrainingJob", "InternalFailure"),
        ("DescribeTrainingJob", "ServiceUnavailable"),
    ]
    assert all("cfg/retry-mode#standard" in fault.user_agent for fault in answered)
    assert "attempt=2" in answered[1].sdk_request, "the second throttle answered the first call's retry"
    trigger_calls = answered[2:]
    assert all("aiobotocore" in fault.user_agent.lower() for fault in trigger_calls), "the trigger's client got the 5xx"
    assert "attempt=2" in trigger_calls[1].sdk_request, "the trigger's client retried, not the waiter's poll loop"
