"""The provider's SageMaker operators, told not to retry a job that failed on its input.

Retries exist for transient faults (throttling, capacity, a lost instance). A job that failed
because the photos do not overlap will fail the same way every time; starting it again costs
a SageMaker job and delays the failure email by the retry backoff. The stages mark such
failures (``<stage>: <reason>``, exit 1, per the container contract) apart from internal errors
(``<stage>: internal error: …``), so on a retry these operators look at the previous job of the
task first and, if it failed on its input, fail at once instead of starting another.
"""

from __future__ import annotations

import re
from typing import Any

from airflow.providers.amazon.aws.operators.sagemaker import (
    SageMakerProcessingOperator,
    SageMakerTrainingOperator,
)
from airflow.sdk.exceptions import AirflowFailException

from splatflow.pipeline.jobs import JobKind, newest_job

INPUT_FAILURE = re.compile(r"^(sfm|train|compress): (?!internal error:)")


def is_input_failure(reason: str | None) -> bool:
    """True when a FailureReason says the job's input, not the system, is at fault."""
    return bool(reason) and INPUT_FAILURE.match(reason or "") is not None


def _refuse_pointless_retry(context: Any, sagemaker: Any, kind: JobKind, base_name: str) -> None:
    if context["ti"].try_number <= 1:
        return
    previous = newest_job(sagemaker, kind, base_name)
    if previous is None or previous[f"{kind.capitalize()}JobStatus"] != "Failed":
        return
    reason = previous.get("FailureReason")
    if is_input_failure(reason):
        raise AirflowFailException(f"not retrying: the previous job failed on its input: {reason}")


class StageProcessingOperator(SageMakerProcessingOperator):
    def execute(self, context: Any) -> dict[str, Any]:
        _refuse_pointless_retry(context, self.hook.conn, "processing", self.config["ProcessingJobName"])
        result: dict[str, Any] = super().execute(context)
        return result


class StageTrainingOperator(SageMakerTrainingOperator):
    def execute(self, context: Any) -> dict[str, Any]:
        _refuse_pointless_retry(context, self.hook.conn, "training", self.config["TrainingJobName"])
        result: dict[str, Any] = super().execute(context)
        return result
