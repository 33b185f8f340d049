"""Which stage of a run failed, and why, in words a user can act on.

A SageMaker stage's reason is the job's own ``FailureReason`` (the container's one-line
``/opt/ml/output/failure``), looked up by the run's job-name stem so a renamed retry is found
too. Airflow-side steps leave their reason in an XCom before they fail.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from splatflow.pipeline.jobs import STAGE_JOB_KINDS, newest_job
from splatflow.pipeline.requests import job_name

log = logging.getLogger(__name__)

REASON_XCOM_KEY = "failure_reason"

STAGE_OF_TASK: dict[str, str] = {
    "validate": "validate",
    "wait_for_input": "wait_for_input",
    "runs_sfm": "sfm",
    "sfm_request": "sfm",
    "sfm": "sfm",
    "runs_training": "train",
    "training_request": "train",
    "train": "train",
    "compress_request": "compress",
    "compress": "compress",
    "publish": "publish",
    "deliver": "publish",
}
"""Task id -> the stage a user knows, in pipeline order: the first failed task is the one to report."""


@dataclass(frozen=True)
class Failure:
    stage: str
    reason: str
    job_name: str | None = None


def _job_failure(sagemaker: Any, run_id: str, stage: str) -> tuple[str | None, str | None]:
    """(job name, FailureReason) of the newest job of this run's stage, if one was started."""
    kind = STAGE_JOB_KINDS[stage]
    description = newest_job(sagemaker, kind, job_name(run_id, stage))
    if description is None:
        return None, None
    return description[f"{kind.capitalize()}JobName"], description.get("FailureReason")


def explain_failure(
    states: dict[str, str | None],
    reasons: dict[str, str | None],
    *,
    run_id: str,
    sagemaker: Any,
    input_wait_seconds: int,
) -> Failure:
    failed = next((task for task in STAGE_OF_TASK if states.get(task) == "failed"), None)
    if failed is None:
        return Failure("unknown", "a step failed; the Airflow task log has the details")
    stage = STAGE_OF_TASK[failed]
    if failed in STAGE_JOB_KINDS:
        try:
            name, reason = _job_failure(sagemaker, run_id, failed)
        except Exception:
            log.exception("could not look up the %s job of run %s", failed, run_id)
            name, reason = None, None
        return Failure(stage, reason or "the job could not be started or did not report a reason", name)
    if failed == "wait_for_input":
        minutes = max(1, round(input_wait_seconds / 60))
        return Failure(stage, f"the photos did not appear in S3 within {minutes} minutes of the request")
    reason = reasons.get(failed) or "an internal error; the operator's task log has the details"
    return Failure(stage, reason)
