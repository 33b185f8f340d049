"""Which step of a run failed, with what code, and why in words a user can act on.

A SageMaker stage's failure is read from its job's description, found by the run's job-name
stem so a renamed retry is found too: the container's own failure line when it wrote one
(``sfm: NO_OVERLAP: …``), otherwise what SageMaker reports (a stopped-at-the-limit job, its
error type). The Airflow-side steps leave the same kind of line in an XCom before they fail.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from splatflow.contract.failures import FailureCode, parse_failure_reason
from splatflow.pipeline import ids
from splatflow.pipeline.job_lookup import STAGE_JOB_KINDS, container_reason, newest_job
from splatflow.pipeline.requests import job_name

log = logging.getLogger(__name__)

REASON_XCOM_KEY = "failure_reason"
"""Where an Airflow-side step leaves its failure line (``contract.failures.format_failure_reason``)."""

SAGEMAKER_ERROR_CODES: dict[str, FailureCode] = {
    "ClientError": FailureCode.INPUT_MISSING,
    "CapacityError": FailureCode.SERVICE_INTERRUPTED,
    "InternalServerError": FailureCode.SERVICE_INTERRUPTED,
}
"""SageMaker's error type, the word before the first colon of a ``FailureReason`` it wrote itself:
``ClientError`` when it could not fetch the job's input, the others when it was at fault."""

TIME_LIMIT_STATUSES = frozenset({"MaxRuntimeExceeded", "MaxWaitTimeExceeded"})
"""A training job's ``SecondaryStatus`` when SageMaker stopped it at its time limit."""


@dataclass(frozen=True)
class Failure:
    step: str
    code: FailureCode
    reason: str
    """What happened, in the step's own words (a SageMaker reason as SageMaker wrote it)."""
    job_name: str | None = None


def job_failure(step: str, description: Mapping[str, Any]) -> Failure:
    """The failure of a stage's job, from its Describe response."""
    kind = STAGE_JOB_KINDS[step].capitalize()
    name = description[f"{kind}JobName"]
    reason = container_reason(description)
    reported = parse_failure_reason(reason)
    if reported is not None:
        return Failure(step, reported.code, reported.message, name)
    if description.get("SecondaryStatus") in TIME_LIMIT_STATUSES or _ran_to_its_limit(kind, description):
        return Failure(step, FailureCode.TIME_LIMIT, reason or "the job reached its time limit", name)
    code = SAGEMAKER_ERROR_CODES.get(reason.partition(":")[0], FailureCode.INTERNAL)
    return Failure(step, code, reason or "the job did not report a reason", name)


def _ran_to_its_limit(kind: str, description: Mapping[str, Any]) -> bool:
    """Whether the job ran as long as its ``MaxRuntimeInSeconds`` allows (a Processing job has no
    status for it)."""
    limit = description.get("StoppingCondition", {}).get("MaxRuntimeInSeconds")
    started, ended = description.get(f"{kind}StartTime"), description.get(f"{kind}EndTime")
    if not limit or started is None or ended is None:
        return False
    return bool(_seconds(ended) - _seconds(started) >= limit)


def _seconds(moment: datetime | float) -> float:
    """A Describe timestamp (a ``datetime`` from boto3, epoch seconds in raw JSON) in epoch seconds."""
    return moment.timestamp() if isinstance(moment, datetime) else float(moment)


def _stage_failure(sagemaker: Any, run_id: str, stage: str) -> Failure:
    """The failure of the newest job of this run's stage, or why there is none to read."""
    try:
        description = newest_job(sagemaker, STAGE_JOB_KINDS[stage], job_name(run_id, stage))
    except Exception:
        log.exception("could not look up the %s job of run %s", stage, run_id)
        description = None
    if description is None:
        return Failure(stage, FailureCode.INTERNAL, "the job could not be started or did not report a reason")
    return job_failure(stage, description)


def explain_failure(
    states: Mapping[str, str | None],
    reasons: Mapping[str, str | None],
    *,
    run_id: str,
    sagemaker: Any,
    input_wait_seconds: int,
) -> Failure:
    """The first failed task of the main line (``ids.STEP_OF_TASK``), as the step a user knows."""
    failed = next((task for task in ids.STEP_OF_TASK if states.get(task) == "failed"), None)
    if failed is None:
        return Failure("unknown", FailureCode.INTERNAL, "a step failed; the Airflow task log has the details")
    step = ids.STEP_OF_TASK[failed]
    if failed in ids.STAGES:
        return _stage_failure(sagemaker, run_id, step)
    reported = parse_failure_reason(reasons.get(failed))
    if reported is not None:
        return Failure(step, reported.code, reported.message)
    if failed == ids.WAIT_FOR_INPUT:
        waited = wait_in_words(input_wait_seconds)
        return Failure(step, FailureCode.INPUT_MISSING, f"the upload of the photos did not complete within {waited}")
    return Failure(step, FailureCode.INTERNAL, "an internal error; the operator's task log has the details")


def wait_in_words(seconds: int) -> str:
    """``1 minute``, ``45 minutes``, ``1 hour``, ``2 hours``: a wait as the email says it."""
    minutes = max(1, round(seconds / 60))
    if minutes >= 60 and minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours} hour{'s' if hours > 1 else ''}"
    return f"{minutes} minute{'s' if minutes > 1 else ''}"
