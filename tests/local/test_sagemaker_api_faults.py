"""Throttling and 5xx answers from the job runner, and the clients' retries that absorb them.

Each test starts its own runner with a fault script (the session's runner has none), sharing
the session's moto server for the jobs' S3 and logs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from runner_support import BUCKET, processing_request, runner_settings, unique, wait_for

from splatflow.local.connections import aws_connection
from splatflow.local.runtime import EmbeddedRuntime
from splatflow.local.sagemaker.faults import FaultPlan
from splatflow.local.sagemaker.runner import JobRunner

FaultScript = dict[str, tuple[str | None, ...]]


@contextmanager
def faulty_runner(runtime: EmbeddedRuntime, state: Path, script: FaultScript) -> Iterator[JobRunner]:
    settings = replace(runner_settings(state), aws_endpoint=runtime.aws_url, injected_api_faults=script)
    runner = JobRunner(settings)
    runner.start()
    try:
        yield runner
    finally:
        runner.stop()


def client(runner: JobRunner, retries: dict[str, Any]) -> Any:
    return boto3.client(
        "sagemaker",
        region_name="us-east-1",
        endpoint_url=runner.url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries=retries),
    )


NO_RETRIES = {"total_max_attempts": 1}
STANDARD_RETRIES = {"mode": "standard", "max_attempts": 5}


@pytest.mark.parametrize(
    ("code", "status"), [("ThrottlingException", 400), ("InternalFailure", 500), ("ServiceUnavailable", 503)]
)
def test_injected_fault_reaches_a_client_that_does_not_retry_with_its_code_and_status(
    runtime: EmbeddedRuntime, tmp_path: Path, code: str, status: int
) -> None:
    script: FaultScript = {"ListProcessingJobs": (code,)}
    with faulty_runner(runtime, tmp_path, script) as runner, pytest.raises(ClientError) as raised:
        client(runner, NO_RETRIES).list_processing_jobs()
    assert raised.value.response["Error"]["Code"] == code
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert [fault.code for fault in runner.faults.answered] == [code]


def test_standard_retries_create_the_job_once_after_a_throttle_and_two_5xx(
    runtime: EmbeddedRuntime, tmp_path: Path
) -> None:
    faults = ("ThrottlingException", "InternalFailure", "ServiceUnavailable")
    name = unique("retried")
    request = processing_request(name, ["--mode", "copy"], None, f"s3://{BUCKET}/{name}/out")
    with faulty_runner(runtime, tmp_path, {"CreateProcessingJob": faults}) as runner:
        sagemaker = client(runner, STANDARD_RETRIES)

        response = sagemaker.create_processing_job(**request)

        assert response["ResponseMetadata"]["RetryAttempts"] == len(faults)
        job = wait_for(lambda: sagemaker.describe_processing_job(ProcessingJobName=name))
        listed = sagemaker.list_processing_jobs(NameContains=name)["ProcessingJobSummaries"]
    assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")
    assert [summary["ProcessingJobName"] for summary in listed] == [name], "one job, however many attempts"
    answered = runner.faults.answered
    assert tuple(fault.code for fault in answered) == faults
    assert [fault.sdk_request.split("; ")[-2:] for fault in answered[1:]] == [
        ["attempt=2", "max=6"],
        ["attempt=3", "max=6"],
    ]


def test_scripted_answers_are_used_up_in_order_then_calls_pass(runtime: EmbeddedRuntime, tmp_path: Path) -> None:
    with faulty_runner(runtime, tmp_path, {"ListTrainingJobs": (None, "ThrottlingException")}) as runner:
        sagemaker = client(runner, NO_RETRIES)
        sagemaker.list_training_jobs()
        with pytest.raises(ClientError, match="ThrottlingException"):
            sagemaker.list_training_jobs()
        sagemaker.list_training_jobs()
        sagemaker.list_processing_jobs()
    assert [(fault.operation, fault.code) for fault in runner.faults.answered] == [
        ("ListTrainingJobs", "ThrottlingException")
    ]


def test_unknown_fault_code_is_refused() -> None:
    with pytest.raises(ValueError, match="SlowDown"):
        FaultPlan({"ListTrainingJobs": ("SlowDown",)})


def test_hooks_built_from_the_embedded_connection_retry_throttles_and_5xx(
    runtime: EmbeddedRuntime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The operators' boto3 clients and the triggers' aiobotocore clients both get the retries."""
    from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook

    script: FaultScript = {
        "ListTrainingJobs": ("ThrottlingException", "InternalFailure"),
        "ListProcessingJobs": ("ServiceUnavailable",),
    }
    with faulty_runner(runtime, tmp_path, script) as runner:
        monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", aws_connection(runtime.aws_url, runner.url, "us-east-1"))
        hook = SageMakerHook(aws_conn_id="aws_default")

        synchronous = hook.get_conn().list_training_jobs()

        async def list_processing_jobs() -> dict[str, Any]:
            async with await hook.get_async_conn() as conn:
                response: dict[str, Any] = await conn.list_processing_jobs()
                return response

        deferred = asyncio.run(list_processing_jobs())
    assert synchronous["ResponseMetadata"]["RetryAttempts"] == 2
    assert deferred["ResponseMetadata"]["RetryAttempts"] == 1
    agents = {fault.operation: fault.user_agent for fault in runner.faults.answered}
    assert all("cfg/retry-mode#standard" in agent for agent in agents.values())
    assert "aiobotocore" in agents["ListProcessingJobs"].lower()
