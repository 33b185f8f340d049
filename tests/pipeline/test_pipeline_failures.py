"""Which step failed, with what code: read from the job's description or the step's own line, never
guessed from the words."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from splatflow.contract.failures import FailureCode, format_failure_reason
from splatflow.pipeline import ids
from splatflow.pipeline.failures import Failure, explain_failure, job_failure, wait_in_words
from splatflow.pipeline.requests import job_name

RUN_ID = "manual__2026-11-22T10:00:00+00:00"
STARTED = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def processing_job(reason: str | None, seconds: float = 60, limit: int = 3600) -> dict[str, Any]:
    description: dict[str, Any] = {
        "ProcessingJobName": "splat-sfm",
        "ProcessingJobStatus": "Failed",
        "StoppingCondition": {"MaxRuntimeInSeconds": limit},
        "ProcessingStartTime": STARTED,
        "ProcessingEndTime": STARTED.timestamp() + seconds,
    }
    if reason is not None:
        description["FailureReason"] = reason
    return description


def test_a_processing_jobs_words_are_its_exit_message_not_its_failure_reason() -> None:
    # SageMaker reports a failed Processing job with a fixed FailureReason and the container's
    # /opt/ml/output/message as its ExitMessage.
    description = processing_job("AlgorithmError: See job logs for more information")
    description["ExitMessage"] = "sfm: NO_OVERLAP: only 3 of 40 photos could be placed\n"

    failure = job_failure("sfm", description)

    assert (failure.code, failure.reason) == (FailureCode.NO_OVERLAP, "only 3 of 40 photos could be placed")


def training_job(reason: str, secondary_status: str = "Failed") -> dict[str, Any]:
    return {
        "TrainingJobName": "splat-train",
        "TrainingJobStatus": "Stopped" if secondary_status.startswith("Max") else "Failed",
        "SecondaryStatus": secondary_status,
        "FailureReason": reason,
    }


@pytest.mark.parametrize(
    ("reason", "code", "words"),
    [
        (
            "sfm: NO_OVERLAP: only 3 of 40 photos could be placed; the photos may not overlap",
            FailureCode.NO_OVERLAP,
            "only 3 of 40 photos could be placed; the photos may not overlap",
        ),
        (
            "AlgorithmError: sfm: UNSAFE_ARCHIVE: member 'x' is a link, exit code: 1",
            FailureCode.UNSAFE_ARCHIVE,
            "member 'x' is a link",
        ),
        ("ClientError: No S3 objects found under S3 URL s3://b/photos.zip", FailureCode.INPUT_MISSING, None),
        ("CapacityError: Unable to provision requested ML compute capacity", FailureCode.SERVICE_INTERRUPTED, None),
        (
            "InternalServerError: the local job runner stopped while this job was running",
            FailureCode.SERVICE_INTERRUPTED,
            None,
        ),
        ("AlgorithmError: the container exited with code 3 without writing it", FailureCode.INTERNAL, None),
        (None, FailureCode.INTERNAL, "the job did not report a reason"),
    ],
)
def test_a_processing_jobs_failure_takes_the_stages_code_or_sagemakers_error_type(
    reason: str | None, code: FailureCode, words: str | None
) -> None:
    failure = job_failure("sfm", processing_job(reason))
    assert (failure.step, failure.code, failure.job_name) == ("sfm", code, "splat-sfm")
    assert failure.reason == (words if words is not None else reason)


def test_a_processing_job_that_ran_to_its_limit_failed_on_time() -> None:
    failure = job_failure("compress", processing_job("The job exceeded its limit and was stopped", 3600.4, 3600))
    assert failure.code is FailureCode.TIME_LIMIT


@pytest.mark.parametrize("status", ["MaxRuntimeExceeded", "MaxWaitTimeExceeded"])
def test_a_training_job_stopped_at_its_limit_failed_on_time(status: str) -> None:
    failure = job_failure("train", training_job("Training job runtime exceeded MaxRuntimeInSeconds", status))
    assert failure.code is FailureCode.TIME_LIMIT


class _SageMaker:
    """Lists and describes one failed job per stage, as ``failures`` asks for it."""

    def __init__(self, jobs: dict[str, dict[str, Any]]) -> None:
        self.jobs = jobs

    def list_processing_jobs(self, NameContains: str, **_: Any) -> dict[str, Any]:  # noqa: N803
        names = [name for name in self.jobs if NameContains in name]
        return {"ProcessingJobSummaries": [{"ProcessingJobName": name} for name in names]}

    def describe_processing_job(self, ProcessingJobName: str) -> dict[str, Any]:  # noqa: N803
        return {**self.jobs[ProcessingJobName], "ProcessingJobName": ProcessingJobName}


def _explain(states: dict[str, str], reasons: dict[str, str | None] | None = None, jobs: Any = None) -> Failure:
    return explain_failure(
        states, reasons or {}, run_id=RUN_ID, sagemaker=jobs or _SageMaker({}), input_wait_seconds=3600
    )


def test_the_first_failed_step_in_pipeline_order_is_the_one_reported() -> None:
    sfm_job = job_name(RUN_ID, "sfm")
    jobs = _SageMaker({sfm_job: processing_job("sfm: TOO_FEW_PHOTOS: the ZIP holds 1 photo(s)")})
    states = {
        ids.VALIDATE: "success",
        ids.WAIT_FOR_INPUT: "success",
        ids.TRAIN: "upstream_failed",
        ids.PUBLISH: "upstream_failed",
        ids.SFM: "failed",
    }
    failure = _explain(states, jobs=jobs)
    assert failure == Failure("sfm", FailureCode.TOO_FEW_PHOTOS, "the ZIP holds 1 photo(s)", sfm_job)


def test_the_input_checks_own_line_gives_its_code() -> None:
    line = format_failure_reason(ids.VALIDATE, FailureCode.BUCKET_NOT_ALLOWED, "the bucket 'x' is not allowed")
    failure = _explain({ids.VALIDATE: "failed"}, {ids.VALIDATE: line})
    assert failure == Failure(ids.VALIDATE, FailureCode.BUCKET_NOT_ALLOWED, "the bucket 'x' is not allowed")


def test_an_upload_that_never_completed_is_missing_input() -> None:
    failure = _explain({ids.VALIDATE: "success", ids.WAIT_FOR_INPUT: "failed"})
    assert (failure.step, failure.code) == (ids.WAIT_FOR_INPUT, FailureCode.INPUT_MISSING)
    assert failure.reason == "the upload of the photos did not complete within 1 hour"


def test_the_waits_own_line_names_the_file_it_gave_up_on() -> None:
    line = format_failure_reason(ids.WAIT_FOR_INPUT, FailureCode.INPUT_MISSING, "s3://b/k.zip is not there")
    failure = _explain({ids.WAIT_FOR_INPUT: "failed"}, {ids.WAIT_FOR_INPUT: line})
    assert failure == Failure(ids.WAIT_FOR_INPUT, FailureCode.INPUT_MISSING, "s3://b/k.zip is not there")


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(30, "1 minute"), (60, "1 minute"), (90, "2 minutes"), (2700, "45 minutes"), (3600, "1 hour"), (7200, "2 hours")],
)
def test_a_wait_reads_in_the_right_unit_and_number(seconds: int, words: str) -> None:
    assert wait_in_words(seconds) == words


def test_a_stage_that_failed_before_its_job_started_is_the_stages_internal_failure() -> None:
    failure = _explain({ids.COMPRESS: "failed"})
    assert (failure.step, failure.code) == ("compress", FailureCode.INTERNAL)
    assert "could not be started" in failure.reason


def test_a_stage_whose_job_cannot_be_found_still_gets_an_email() -> None:
    failure = _explain({ids.TRAIN: "failed"}, jobs=object())
    assert (failure.step, failure.code) == ("train", FailureCode.INTERNAL)
    assert "could not be started" in failure.reason
