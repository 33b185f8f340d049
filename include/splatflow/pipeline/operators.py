"""The stage operators: the provider's SageMaker operators, each one whole step of the pipeline.

A stage task decides whether this run needs its stage, builds the stage's job request from the
run's plan when it runs (``preparation``; every request shape is checked against botocore's
SageMaker model by the tests and by the embedded runtime's job runner), and runs the job. The
plan, and for compression the training job's result, arrive as templated fields, so Airflow shows
them as edges of the graph. Besides, the operators change five things of the provider's:

Logs: in deferrable mode the provider's operators wait in the triggerer and never print the
container's output, so on completion the job's CloudWatch log is copied into the task log
(``job_logs``).

Retries exist for transient faults (throttling, capacity, a lost instance). A job that failed
because the photos do not overlap will fail the same way every time; starting it again costs a
SageMaker job and delays the failure email by the retry backoff. The stages report every failure
with a code (``sfm: NO_OVERLAP: …``, ``contract.failures``), so on a retry these operators look at
the previous job of the task first and, when its code says a retry cannot help, fail at once.

Taking over: a task can fail while its job goes on or even succeeds. Airflow 3.3's scheduler fails
a deferred task whose trigger fired before it had recorded the deferral (the stale "success" of
the worker that deferred; apache/airflow#67287, open in 3.3.2), which a job of a few seconds or a
busy scheduler makes likely; a worker can also die after starting a job. The provider's retry
would start a second job (and bill it). Here a try first looks for the newest job of its run's
generation (``job_lookup.generation_name``): one that completed is the result, one in progress is
waited for, and only a failed or stopped one (or none) leads to a new job. A cleared run is a new
generation, so what a user clears is done again.

A delivered run is final: clearing one stage task of it (the UI clears downstream by default)
would start a new job and overwrite outputs the email links to, so a stage whose run holds the
result email's delivery record skips instead (``validate`` does the same for a whole cleared run).

Killing: the provider's operators leave the SageMaker job running when a user marks the task
failed or clears it, so a GPU job would bill on until its MaxRuntime. Here the worker stops the
job in ``on_kill``, and while the task is deferred its trigger stops it in ``on_kill`` (Airflow
runs that only on a user's action, never on a triggerer restart).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any, ClassVar, Literal, NoReturn, cast

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
from splatflow.pipeline import ids, preparation
from splatflow.pipeline.job_logs import print_job_log
from splatflow.pipeline.job_lookup import JobKind, container_reason, generation_name, newest_job
from splatflow.pipeline.records import result_delivered
from splatflow.pipeline.run_plan import PreparedRun
from splatflow.pipeline.settings import PipelineSettings

log = logging.getLogger(__name__)


def retry_cannot_help(reason: str | None) -> bool:
    """True when a job's failure line carries a stage's code that another try would meet again."""
    reported = parse_failure_reason(reason)
    return reported is not None and not reported.code.retry_may_help


def skip_unless_started(plan: PreparedRun, stage: str, aws_conn_id: str | None) -> None:
    """Skip the task (no job) when this run does not start ``stage``, or when its result went out.

    A delivered run is asked the way ``validate`` asks (``records.result_delivered``): a run whose
    failure email went out is not final, and clearing its failed stage must start the job again.
    """
    if not plan.starts(stage):
        raise AirflowSkipException(f"steps '{plan.submission.steps}' do not include the {stage} stage")
    if result_delivered(S3Hook(aws_conn_id=aws_conn_id).get_conn(), plan.layout):
        raise AirflowSkipException("this run's result was delivered already; its outputs stay as they are")


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
    """Mixed into the stage operators ahead of the provider's class: whether the run needs the
    stage, its request, which job a try runs or takes over, and stopping it when the task is killed."""

    STAGE: ClassVar[str]
    JOB_TYPE: ClassVar[Literal["Processing", "Training"]]
    LOG_GROUP: ClassVar[str]

    plan: Any
    """The run's plan (templated: ``validate``'s result); the request is built from it in ``execute``."""

    def build_request(self, plan: PreparedRun, settings: PipelineSettings) -> dict[str, Any]:
        """The stage's SageMaker job request for this run."""
        raise NotImplementedError

    def _job_name(self) -> str | None:
        name = cast(Any, self).config.get(f"{self.JOB_TYPE}JobName")
        return str(name) if name else None

    def execute(self, context: Any) -> dict[str, Any]:
        operator = cast(Any, self)
        plan = PreparedRun.from_dict(operator.plan)
        skip_unless_started(plan, self.STAGE, operator.aws_conn_id)
        generation = context["dag_run"].clear_number or 0
        plan = replace(plan, layout=plan.layout.in_generation(generation))
        operator.config = self.build_request(plan, PipelineSettings.from_environment())
        kind = cast(JobKind, self.JOB_TYPE.lower())
        try:
            name = generation_name(operator.config[f"{self.JOB_TYPE}JobName"], generation)
        except ValueError as error:
            raise AirflowFailException(str(error)) from error
        operator.config[f"{self.JOB_TYPE}JobName"] = name
        previous = newest_job(operator.hook.conn, kind, name, same_generation=True) or {}
        previous_name, status = previous.get(f"{self.JOB_TYPE}JobName", ""), previous.get(f"{self.JOB_TYPE}JobStatus")
        if status in ("Completed", "InProgress"):
            self._take_over(previous_name, status)
        if status == "Failed" and retry_cannot_help(reason := container_reason(previous)):
            raise AirflowFailException(f"not retrying: another try would fail the same way: {reason}")
        result: dict[str, Any] = cast(Any, super()).execute(context)
        return result

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> dict[str, Any]:
        print_job_log(self, self.LOG_GROUP, event)
        result: dict[str, Any] = cast(Any, super()).execute_complete(context, event)
        return result

    def _take_over(self, name: str, status: str) -> NoReturn:
        """Defer on the job an earlier try started, as the provider defers on the one it creates.

        A completed job is deferred on too: its trigger fires at its first status check with the
        event the provider's own trigger makes (``AwsBaseWaiterTrigger.run``), so ``execute_complete``
        reads no event shape of ours.
        """
        operator = cast(Any, self)
        operator.log.info("%s job %s of this run is %s already: taking it over", self.JOB_TYPE, name, status.lower())
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
        name = self._job_name()
        if name is None:
            return  # killed before its request was built: no job was started
        method, arguments = _stop_request(self.JOB_TYPE, name)
        try:
            getattr(cast(Any, self).hook.conn, method)(**arguments)
        except ClientError as error:
            if not _already_finished(error):
                raise
            return
        log.warning("the task was killed: stopped %s job %s", self.JOB_TYPE.lower(), name)


class StageProcessingOperator(_StageJob, SageMakerProcessingOperator):
    """A stage run as a SageMaker Processing job."""

    JOB_TYPE = "Processing"
    LOG_GROUP = "/aws/sagemaker/ProcessingJobs"
    template_fields: Sequence[str] = (*SageMakerProcessingOperator.template_fields, "plan")

    def __init__(self, *, plan: Any, **kwargs: Any) -> None:
        # The request is the run's own, built once the plan is known (execute).
        super().__init__(config={}, **kwargs)
        self.plan = plan


class SfmOperator(StageProcessingOperator):
    """Photo alignment (SfM)."""

    STAGE = ids.SFM

    def build_request(self, plan: PreparedRun, settings: PipelineSettings) -> dict[str, Any]:
        return preparation.sfm_request(plan, settings)


class TrainingOperator(_StageJob, SageMakerTrainingOperator):
    """3D Gaussian Splatting as a SageMaker Training job (GPU)."""

    STAGE = ids.TRAIN
    JOB_TYPE = "Training"
    LOG_GROUP = "/aws/sagemaker/TrainingJobs"
    template_fields: Sequence[str] = (*SageMakerTrainingOperator.template_fields, "plan", "sfm")

    def __init__(self, *, plan: Any, sfm: Any = None, **kwargs: Any) -> None:
        super().__init__(config={}, **kwargs)
        self.plan = plan
        self.sfm: Mapping[str, Any] | None = sfm
        """The SfM job's result (None when this run aligned no photos: the SfM output is the user's)."""

    def build_request(self, plan: PreparedRun, settings: PipelineSettings) -> dict[str, Any]:
        return preparation.training_request(plan, settings, self.sfm)


class CompressOperator(StageProcessingOperator):
    """Compression, given the training job's result (None when this run trained nothing: the model
    is the submission's)."""

    STAGE = ids.COMPRESS
    template_fields: Sequence[str] = (*StageProcessingOperator.template_fields, "training")

    def __init__(self, *, training: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.training: Mapping[str, Any] | None = training

    def build_request(self, plan: PreparedRun, settings: PipelineSettings) -> dict[str, Any]:
        return preparation.compress_request(plan, settings, self.training)
