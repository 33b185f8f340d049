"""The provider's SageMaker operators, with five changes: no pointless retries, a retry takes
over its job, the job's log, a delivered run's stages stay as they are, and a killed task stops
its job.

Logs: in deferrable mode the provider's operators wait in the triggerer and never print the
container's output, so on completion these operators copy the job's CloudWatch log into the
task log, where a user looks first.

Retries exist for transient faults (throttling, capacity, a lost instance). A job that failed
because the photos do not overlap will fail the same way every time; starting it again costs
a SageMaker job and delays the failure email by the retry backoff. The stages report every
failure with a code (``sfm: NO_OVERLAP: …``, ``contract.failures``), so on a retry these
operators look at the previous job of the task first and, when its code says a retry cannot
help, fail at once instead of starting another.

Taking over: a task can fail while its job goes on or even succeeds. Airflow 3.3's scheduler
fails a deferred task whose trigger fired before it had recorded the deferral (the stale
"success" of the worker that deferred; apache/airflow#67287, open in 3.3.2), which a job of a
few seconds or a busy scheduler makes likely; a worker can also die after starting a job. The
provider's retry would start a second job (and bill it). Here a try first looks for the newest
job of its run's generation (``jobs.generation_name``): one that completed is the result, one
in progress is waited for, and only a failed or stopped one (or none) leads to a new job. A
cleared run is a new generation, so what a user clears is done again.

A delivered run is final: clearing one stage task of it (the UI clears downstream by default)
would start a new job and overwrite outputs the email links to, so a stage whose run holds the
result email's delivery record skips instead (``validate`` does the same for a whole cleared run).

Killing: the provider's operators leave the SageMaker job running when a user marks the task
failed or clears it, so a GPU job would bill on until its MaxRuntime. Here the worker stops
the job in ``on_kill``, and while the task is deferred its trigger stops it in ``on_kill``
(Airflow runs that only on a user's action, never on a triggerer restart).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any, Literal, NoReturn, cast

from airflow.providers.amazon.aws.hooks.logs import AwsLogsHook
from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.amazon.aws.operators.sagemaker import (
    SageMakerProcessingOperator,
    SageMakerTrainingOperator,
)
from airflow.providers.amazon.aws.triggers.sagemaker import SageMakerTrigger
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException
from airflow.triggers.base import BaseTrigger
from botocore.exceptions import ClientError

from splatflow.contract.failures import parse_failure_reason
from splatflow.pipeline.jobs import JobKind, container_reason, generation_name, newest_job
from splatflow.pipeline.layout import RunLayout
from splatflow.pipeline.records import result_delivered

MAX_LOG_LINES = 5000
"""A runaway job's log is cut here; the rest stays in CloudWatch Logs."""

log = logging.getLogger(__name__)


def retry_cannot_help(reason: str | None) -> bool:
    """True when a job's failure line carries a stage's code that another try would meet again."""
    reported = parse_failure_reason(reason)
    return reported is not None and not reported.code.retry_may_help


def run_layout_of(stage_output_uri: str) -> RunLayout:
    """The run a stage writes to, from its output (``s3://B/runs/<run>/<stage>/``)."""
    bucket, _, key = stage_output_uri.removeprefix("s3://").partition("/")
    return RunLayout(bucket, key.rstrip("/").rsplit("/", 1)[0])


def skip_if_delivered(aws_conn_id: str | None, stage_output_uri: str) -> None:
    """Skip the task (no job) when the run's result went out: its outputs are what the user has.

    Asked the way ``validate`` asks (``records.result_delivered``): a run whose failure email went
    out is not final, and clearing its failed stage must start the job again.
    """
    if result_delivered(S3Hook(aws_conn_id=aws_conn_id).get_conn(), run_layout_of(stage_output_uri)):
        raise AirflowSkipException("this run's result was delivered already; its outputs stay as they are")


def job_log_lines(logs: Any, log_group: str, job_name: str, limit: int = MAX_LOG_LINES) -> Iterator[str]:
    """The job's log lines in order, from the streams SageMaker names ``<job>/algo-<n>-<epoch>``."""
    streams = logs.describe_log_streams(logGroupName=log_group, logStreamNamePrefix=f"{job_name}/")["logStreams"]
    emitted = 0
    for stream in streams:
        request: dict[str, Any] = {
            "logGroupName": log_group,
            "logStreamName": stream["logStreamName"],
            "startFromHead": True,
        }
        while emitted < limit:
            page = logs.get_log_events(**request)
            for event in page["events"][: limit - emitted]:
                emitted += 1
                yield event["message"]
            if not page["events"] or page["nextForwardToken"] == request.get("nextToken"):
                break
            request["nextToken"] = page["nextForwardToken"]


def _print_job_log(operator: Any, log_group: str, event: dict[str, Any] | None) -> None:
    job_name = (event or {}).get("job_name")
    if not job_name:
        return
    logs = AwsLogsHook(aws_conn_id=operator.aws_conn_id, region_name=operator.region_name).get_conn()
    for line in job_log_lines(logs, log_group, job_name):
        operator.log.info("%s | %s", job_name, line)


def _stop_request(job_type: str, job_name: str) -> tuple[str, dict[str, str]]:
    """(client method, arguments) that stop a ``Processing`` or ``Training`` job."""
    return f"stop_{job_type.lower()}_job", {f"{job_type}JobName": job_name}


def _already_finished(error: ClientError) -> bool:
    """SageMaker refuses to stop a job that has ended; that is the outcome wanted anyway."""
    return error.response.get("Error", {}).get("Code") == "ValidationException"


class StoppingSageMakerTrigger(SageMakerTrigger):
    """The provider's trigger, plus stopping its job when a user kills the deferred task."""

    async def on_kill(self) -> None:
        method, arguments = _stop_request(self.job_type, self.job_name)
        async with await self.hook().get_async_conn() as client:
            try:
                await getattr(client, method)(**arguments)
            except ClientError as error:
                if not _already_finished(error):
                    raise
                return
        log.warning("the task was killed: stopped %s job %s", self.job_type.lower(), self.job_name)


class _StageJob:
    """Mixed into the stage operators ahead of the provider's class: which job a try runs or
    takes over, and stopping it when the task is killed."""

    JOB_TYPE: Literal["Processing", "Training"]

    def _job_name(self) -> str:
        name: str = cast(Any, self).config[f"{self.JOB_TYPE}JobName"]
        return name

    def _output_uri(self) -> str:
        """The stage's S3 output, under the run's prefix (each operator knows where its config has it)."""
        raise NotImplementedError

    def execute(self, context: Any) -> dict[str, Any]:
        operator = cast(Any, self)
        skip_if_delivered(operator.aws_conn_id, self._output_uri())
        kind = cast(JobKind, self.JOB_TYPE.lower())
        try:
            name = generation_name(self._job_name(), context["dag_run"].clear_number or 0)
        except ValueError as error:
            raise AirflowFailException(str(error)) from error
        operator.config[f"{self.JOB_TYPE}JobName"] = name
        previous = newest_job(operator.hook.conn, kind, name, same_generation=True) or {}
        previous_name, status = previous.get(f"{self.JOB_TYPE}JobName", ""), previous.get(f"{self.JOB_TYPE}JobStatus")
        if status == "Completed":
            return self._take_over_completed(context, previous_name)
        if status == "InProgress":
            self._wait_for(previous_name)
        if status == "Failed" and retry_cannot_help(reason := container_reason(previous)):
            raise AirflowFailException(f"not retrying: another try would fail the same way: {reason}")
        result: dict[str, Any] = cast(Any, super()).execute(context)
        return result

    def _take_over_completed(self, context: Any, name: str) -> dict[str, Any]:
        cast(Any, self).log.info("%s job %s of this run completed already: taking its result", self.JOB_TYPE, name)
        result: dict[str, Any] = cast(Any, self).execute_complete(context, {"status": "success", "job_name": name})
        return result

    def _wait_for(self, name: str) -> NoReturn:
        """Defer on a job an earlier try started, as the provider defers on the one it creates."""
        operator = cast(Any, self)
        operator.log.info("%s job %s of this run is still in progress: waiting for it", self.JOB_TYPE, name)
        operator.config[f"{self.JOB_TYPE}JobName"] = name
        timeout = timedelta(seconds=operator.max_ingestion_time) if operator.max_ingestion_time else None
        self.defer(
            trigger=StoppingSageMakerTrigger(
                job_name=name,
                job_type=self.JOB_TYPE,
                waiter_delay=operator.check_interval,
                waiter_max_attempts=operator.max_attempts,
                aws_conn_id=operator.aws_conn_id,
                region_name=operator.region_name,
                verify=operator.verify,
                botocore_config=operator.botocore_config,
            ),
            method_name="execute_complete",
            timeout=timeout or operator.execution_timeout,
        )

    def defer(
        self,
        *,
        trigger: BaseTrigger,
        method_name: str,
        kwargs: dict[str, Any] | None = None,
        timeout: timedelta | int | float | None = None,
    ) -> NoReturn:
        if type(trigger) is SageMakerTrigger:
            _, fields = trigger.serialize()
            trigger = StoppingSageMakerTrigger(**fields)
        super().defer(trigger=trigger, method_name=method_name, kwargs=kwargs, timeout=timeout)  # type: ignore[misc]
        raise AssertionError("defer() returned")  # BaseOperator.defer always raises TaskDeferred

    def on_kill(self) -> None:
        method, arguments = _stop_request(self.JOB_TYPE, self._job_name())
        try:
            getattr(cast(Any, self).hook.conn, method)(**arguments)
        except ClientError as error:
            if not _already_finished(error):
                raise
            return
        log.warning("the task was killed: stopped %s job %s", self.JOB_TYPE.lower(), self._job_name())


class StageProcessingOperator(_StageJob, SageMakerProcessingOperator):
    JOB_TYPE = "Processing"

    def _output_uri(self) -> str:
        uri: str = self.config["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
        return uri

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
        _print_job_log(self, "/aws/sagemaker/ProcessingJobs", event)
        result: dict[str, dict[str, Any]] = super().execute_complete(context, event)
        return result


class StageTrainingOperator(_StageJob, SageMakerTrainingOperator):
    JOB_TYPE = "Training"

    def _output_uri(self) -> str:
        uri: str = self.config["OutputDataConfig"]["S3OutputPath"]
        return uri

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
        _print_job_log(self, "/aws/sagemaker/TrainingJobs", event)
        result: dict[str, dict[str, Any]] = super().execute_complete(context, event)
        return result
