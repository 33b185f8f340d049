"""The stage operators: a stage the run does not start skips, the request is built from the run's plan,
no retry when the code says it cannot help, a retry takes over its run's job, a killed task stops
its job, and a delivered run's stages stay as they are."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest
from airflow.providers.amazon.aws.triggers.sagemaker import SageMakerTrigger
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException, TaskDeferred
from airflow.triggers.base import BaseTrigger

from splatflow.local.aws_clients import aws_client
from splatflow.local.config import DEFAULT_STAGE_MODULES, RunnerSettings
from splatflow.local.runtime import EmbeddedRuntime, RuntimeSettings
from splatflow.pipeline.layout import RunLayout
from splatflow.pipeline.operators import (
    CompressOperator,
    SfmOperator,
    StageProcessingOperator,
    StoppingSageMakerTrigger,
    TrainingOperator,
    retry_cannot_help,
    skip_unless_started,
)
from splatflow.pipeline.run_plan import PreparedRun
from splatflow.pipeline.s3_locations import S3Location
from splatflow.pipeline.settings import PipelineSettings
from splatflow.pipeline.submission import Submission


@pytest.mark.parametrize(
    ("reason", "permanent"),
    [
        ("sfm: NO_OVERLAP: 3 of 40 photos could be matched; the photos may not overlap", True),
        ("AlgorithmError: train: NO_OVERLAP: the SfM output has only 5 3D points, exit code: 1", True),
        ("compress: BAD_MODEL: splat.ply is missing 3DGS properties: opacity", True),
        ("train: OUT_OF_MEMORY: the GPU ran out of memory at step 900", True),
        ("train: INTERNAL: RuntimeError: CUDA error: an illegal memory access", False),
        ("sfm: the photos may not overlap", False),
        ("InternalServerError: an internal error occurred", False),
        ("CapacityError: Unable to provision requested ML compute capacity", False),
        ("", False),
        (None, False),
    ],
)
def test_only_a_stages_code_that_a_retry_cannot_help_stops_retries(reason: str | None, permanent: bool) -> None:
    assert retry_cannot_help(reason) is permanent


# A killed task stops its job: the trigger's on_kill (deferred) and the operator's (worker).

FAKE_STAGES = Path(__file__).parents[1] / "local" / "fake_stages"
SCRIPTED_IMAGE = "000000000000.dkr.ecr.us-east-1.amazonaws.com/splatflow/scripted:test"
ROLE_ARN = "arn:aws:iam::000000000000:role/splatflow-jobs"
SLEEPING = ["--mode", "sleep", "--seconds", "120"]


@pytest.fixture(scope="module")
def killable_runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRuntime]:
    """A runtime whose 'scripted' image sleeps on request, with ``aws_default`` pointing at it."""
    state = tmp_path_factory.mktemp("kill")
    runner = RunnerSettings(
        state_dir=state / "sagemaker",
        stage_modules={**DEFAULT_STAGE_MODULES, "scripted": "scripted_stage"},
        extra_python_path=(FAKE_STAGES,),
        backend="subprocess",
        stop_grace_seconds=2.0,
        poll_seconds=0.05,
    )
    settings = RuntimeSettings(state_dir=state, aws_port=0, sagemaker_port=0, smtp_port=0, runner=runner)
    runtime = EmbeddedRuntime(settings)
    runtime.start()
    try:
        with pytest.MonkeyPatch.context() as patch:
            for name, value in runtime.environment().items():
                patch.setenv(name, value)
            yield runtime
    finally:
        runtime.stop()


def _processing_config(name: str) -> dict[str, Any]:
    return {
        "ProcessingJobName": name,
        "RoleArn": ROLE_ARN,
        "AppSpecification": {"ImageUri": SCRIPTED_IMAGE, "ContainerArguments": SLEEPING},
        "ProcessingResources": {
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.c6i.2xlarge", "VolumeSizeInGB": 30}
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }


class _ScriptedStage(StageProcessingOperator):
    """A processing stage whose request is a fixed one: the stage operators' behaviour, on the
    runtime's scripted image."""

    STAGE = "compress"

    def __init__(self, *, request: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.request = request

    def build_request(self, plan: PreparedRun, settings: PipelineSettings) -> dict[str, Any]:
        return json.loads(json.dumps(self.request))


def _plan(bucket: str, run: str, steps: str = "compress_only") -> dict[str, Any]:
    """A run's plan (as ``validate`` returns it) for a run keeping its objects under ``s3://bucket/runs/run/``."""
    sources = {
        "full": {"input": S3Location("uploads", "photos.zip")},
        "train_and_compress": {"sfm_output": S3Location("uploads", "sfm/")},
        "compress_only": {"model": S3Location("uploads", "splat.ply")},
    }
    submission = Submission(email="pilot@example.com", steps=steps, **sources[steps])  # type: ignore[arg-type]
    return PreparedRun(run, submission, RunLayout(bucket, f"runs/{run}")).to_dict()


def _status(sagemaker: Any, name: str, timeout: float = 30.0) -> str:
    """The job's status once it has left InProgress/Stopping (or the last one seen)."""
    deadline = time.monotonic() + timeout
    while True:
        status: str = sagemaker.describe_processing_job(ProcessingJobName=name)["ProcessingJobStatus"]
        if status not in {"InProgress", "Stopping"} or time.monotonic() > deadline:
            return status
        time.sleep(0.1)


def _started_job(runtime: EmbeddedRuntime, name: str) -> Any:
    assert runtime.runner is not None
    sagemaker = aws_client("sagemaker", runtime.runner.url, "us-east-1")
    sagemaker.create_processing_job(**_processing_config(name))
    assert sagemaker.describe_processing_job(ProcessingJobName=name)["ProcessingJobStatus"] == "InProgress"
    return sagemaker


def test_killing_a_deferred_stage_task_stops_its_job(killable_runtime: EmbeddedRuntime) -> None:
    sagemaker = _started_job(killable_runtime, "splat-kill-deferred")
    trigger = StoppingSageMakerTrigger(job_name="splat-kill-deferred", job_type="Processing", aws_conn_id="aws_default")

    asyncio.run(trigger.on_kill())

    assert _status(sagemaker, "splat-kill-deferred") == "Stopped"
    asyncio.run(trigger.on_kill())  # a job that has ended already: nothing to stop, no error


def test_killing_a_running_stage_task_on_the_worker_stops_its_job(killable_runtime: EmbeddedRuntime) -> None:
    sagemaker = _started_job(killable_runtime, "splat-kill-worker")
    operator = _ScriptedStage(task_id="sfm", plan=_plan("work", "r1"), request={})
    operator.config = _processing_config("splat-kill-worker")  # as execute leaves it

    operator.on_kill()

    assert _status(sagemaker, "splat-kill-worker") == "Stopped"
    operator.on_kill()


def test_stage_operators_wait_with_the_trigger_that_stops_the_job_when_killed() -> None:
    operator = TrainingOperator(task_id="train", plan=_plan("work", "r1"))
    provider_trigger = SageMakerTrigger(job_name="splat-x-train", job_type="Training", waiter_delay=7)

    with pytest.raises(TaskDeferred) as deferred:
        operator.defer(trigger=provider_trigger, method_name="execute_complete")

    trigger = deferred.value.trigger
    assert type(trigger) is StoppingSageMakerTrigger
    assert trigger.serialize()[1] == provider_trigger.serialize()[1]
    assert trigger.serialize()[0] == "splatflow.pipeline.operators.StoppingSageMakerTrigger"


# A delivered run is final: a cleared stage task skips instead of overwriting what the email links to.


def test_a_task_killed_before_it_built_its_request_has_no_job_to_stop() -> None:
    CompressOperator(task_id="compress", plan=_plan("work", "r1")).on_kill()


@pytest.mark.parametrize(
    ("steps", "started"),
    [
        ("full", {"sfm", "train", "compress"}),
        ("train_and_compress", {"train", "compress"}),
        ("compress_only", {"compress"}),
    ],
)
def test_a_stage_task_skips_a_stage_its_run_does_not_start(
    killable_runtime: EmbeddedRuntime, steps: str, started: set[str]
) -> None:
    bucket = f"work-{steps.replace('_', '-')}"
    aws_client("s3", killable_runtime.aws_url, "us-east-1").create_bucket(Bucket=bucket)
    plan = PreparedRun.from_dict(_plan(bucket, "r1", steps))
    for stage in (SfmOperator.STAGE, TrainingOperator.STAGE, CompressOperator.STAGE):
        if stage in started:
            skip_unless_started(plan, stage, "aws_default")
        else:
            with pytest.raises(AirflowSkipException, match=f"do not include the {stage} stage"):
                skip_unless_started(plan, stage, "aws_default")


def test_each_stage_task_builds_its_request_from_the_plan_and_the_training_result() -> None:
    plan = PreparedRun.from_dict(_plan("work", "r1", "full"))
    settings = PipelineSettings()
    training = {"Training": {"ModelArtifacts": {"S3ModelArtifacts": "s3://work/runs/r1/train/j/output/model.tar.gz"}}}

    sfm = SfmOperator(task_id="sfm", plan=plan.to_dict()).build_request(plan, settings)
    train = TrainingOperator(task_id="train", plan=plan.to_dict()).build_request(plan, settings)
    compress = CompressOperator(task_id="compress", plan=plan.to_dict(), training=training).build_request(
        plan, settings
    )

    assert sfm["ProcessingInputs"][0]["S3Input"]["S3Uri"] == "s3://uploads/photos.zip"
    assert train["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] == "s3://work/runs/r1/sfm/"
    (model_input,) = compress["ProcessingInputs"]
    assert model_input["S3Input"]["S3Uri"] == "s3://work/runs/r1/train/j/output/model.tar.gz"


def test_the_plan_and_the_training_result_are_templated_fields() -> None:
    assert "plan" in SfmOperator.template_fields and "plan" in TrainingOperator.template_fields
    assert {"plan", "training", "config"} <= set(CompressOperator.template_fields)


def test_a_stage_of_a_delivered_run_skips_without_starting_a_job(killable_runtime: EmbeddedRuntime) -> None:
    s3 = aws_client("s3", killable_runtime.aws_url, "us-east-1")
    s3.create_bucket(Bucket="work-delivered")
    name = "splat-delivered-compress"
    config = _processing_config(name)
    config["ProcessingOutputConfig"] = {
        "Outputs": [
            {
                "OutputName": "compress",
                "S3Output": {
                    "S3Uri": "s3://work-delivered/runs/r1/compress/",
                    "LocalPath": "/opt/ml/processing/output",
                    "S3UploadMode": "EndOfJob",
                },
            }
        ]
    }
    plan = _plan("work-delivered", "r1")
    skip_unless_started(PreparedRun.from_dict(plan), "compress", "aws_default")  # no record yet: no skip
    failure_sent = {"failure": {"to": "p@example.com", "sent_at": "2026-11-22T10:00:00+00:00"}}
    s3.put_object(Bucket="work-delivered", Key="runs/r1/delivered.json", Body=json.dumps(failure_sent).encode())
    skip_unless_started(PreparedRun.from_dict(plan), "compress", "aws_default")  # only a failure email: retry allowed
    result_sent = {**failure_sent, "success": {"to": "p@example.com", "sent_at": "2026-11-22T11:00:00+00:00"}}
    s3.put_object(Bucket="work-delivered", Key="runs/r1/delivered.json", Body=json.dumps(result_sent).encode())

    with pytest.raises(AirflowSkipException, match="delivered already"):
        _ScriptedStage(task_id="compress", plan=plan, request=config).execute({})

    assert killable_runtime.runner is not None
    sagemaker = aws_client("sagemaker", killable_runtime.runner.url, "us-east-1")
    assert sagemaker.list_processing_jobs(NameContains=name)["ProcessingJobSummaries"] == []
    other_run = PreparedRun.from_dict(_plan("work-delivered", "r2"))
    skip_unless_started(other_run, "compress", "aws_default")  # another run is not affected


# A retry takes over the job of its run's generation instead of starting a second one.

TAKEOVER_BUCKET = "work-takeover"


def _try_context(try_number: int, clear_number: int = 0) -> dict[str, Any]:
    return {"ti": SimpleNamespace(try_number=try_number), "dag_run": SimpleNamespace(clear_number=clear_number)}


def _stage_operator(runtime: EmbeddedRuntime, name: str, arguments: list[str]) -> _ScriptedStage:
    s3 = aws_client("s3", runtime.aws_url, "us-east-1")
    if TAKEOVER_BUCKET not in {bucket["Name"] for bucket in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=TAKEOVER_BUCKET)
    config = _processing_config(name)
    config["AppSpecification"]["ContainerArguments"] = arguments
    config["ProcessingOutputConfig"] = {
        "Outputs": [
            {
                "OutputName": "compress",
                "S3Output": {
                    "S3Uri": f"s3://{TAKEOVER_BUCKET}/runs/{name}/compress/",
                    "LocalPath": "/opt/ml/processing/output",
                    "S3UploadMode": "EndOfJob",
                },
            }
        ]
    }
    return _ScriptedStage(
        task_id="compress", plan=_plan(TAKEOVER_BUCKET, name), request=config, deferrable=True, check_interval=1
    )


def _job_names(runtime: EmbeddedRuntime, stem: str) -> list[str]:
    assert runtime.runner is not None
    sagemaker = aws_client("sagemaker", runtime.runner.url, "us-east-1")
    summaries = sagemaker.list_processing_jobs(NameContains=stem, SortBy="CreationTime", SortOrder="Ascending")[
        "ProcessingJobSummaries"
    ]
    return [summary["ProcessingJobName"] for summary in summaries]


def _first_try(runtime: EmbeddedRuntime, name: str, arguments: list[str]) -> Any:
    """Try 1: the operator starts the job and defers on it, as in the DAG."""
    with pytest.raises(TaskDeferred):
        _stage_operator(runtime, name, arguments).execute(_try_context(1))
    assert runtime.runner is not None
    return aws_client("sagemaker", runtime.runner.url, "us-east-1")


async def _first_event(trigger: BaseTrigger) -> dict[str, Any]:
    """The event a trigger fires first, as the triggerer would hand it to ``execute_complete``."""
    async for event in trigger.run():
        return dict(event.payload)
    raise AssertionError("the trigger fired no event")


def test_a_retry_takes_the_result_of_its_runs_completed_job(killable_runtime: EmbeddedRuntime) -> None:
    sagemaker = _first_try(killable_runtime, "splat-takeover-done", ["--mode", "sleep", "--seconds", "0"])
    assert _status(sagemaker, "splat-takeover-done") == "Completed"

    operator = _stage_operator(killable_runtime, "splat-takeover-done", SLEEPING)
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(_try_context(2))
    trigger = deferred.value.trigger
    assert type(trigger) is StoppingSageMakerTrigger and trigger.job_name == "splat-takeover-done"
    event = asyncio.run(_first_event(trigger))
    assert event["status"] == "success", "the provider's trigger fires at once for a completed job"

    result = operator.execute_complete(_try_context(2), event)

    assert result["Processing"]["ProcessingJobName"] == "splat-takeover-done"
    assert result["Processing"]["ProcessingJobStatus"] == "Completed"
    assert _job_names(killable_runtime, "splat-takeover-done") == ["splat-takeover-done"]


def test_a_retry_waits_for_its_runs_job_in_progress(killable_runtime: EmbeddedRuntime) -> None:
    sagemaker = _first_try(killable_runtime, "splat-takeover-running", SLEEPING)
    operator = _stage_operator(killable_runtime, "splat-takeover-running", SLEEPING)

    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(_try_context(2))

    trigger = deferred.value.trigger
    assert type(trigger) is StoppingSageMakerTrigger
    assert (trigger.job_name, trigger.job_type, trigger.waiter_delay) == ("splat-takeover-running", "Processing", 1)
    assert deferred.value.method_name == "execute_complete"
    assert _job_names(killable_runtime, "splat-takeover-running") == ["splat-takeover-running"]
    operator.on_kill()  # the task it waits for is its own: killing it stops that job
    assert _status(sagemaker, "splat-takeover-running") == "Stopped"


def test_a_retry_after_a_job_that_failed_or_stopped_starts_a_new_one(killable_runtime: EmbeddedRuntime) -> None:
    sagemaker = _first_try(killable_runtime, "splat-takeover-failed", ["--mode", "crash"])
    assert _status(sagemaker, "splat-takeover-failed") == "Failed"

    with pytest.raises(TaskDeferred) as deferred:
        _stage_operator(killable_runtime, "splat-takeover-failed", SLEEPING).execute(_try_context(2))

    names = _job_names(killable_runtime, "splat-takeover-failed")
    assert len(names) == 2 and names[0] == "splat-takeover-failed"
    assert names[1].startswith("splat-takeover-failed-") and names[1].rsplit("-", 1)[1].isdigit()
    assert deferred.value.trigger.job_name == names[1]
    sagemaker.stop_processing_job(ProcessingJobName=names[1])
    assert _status(sagemaker, names[1]) == "Stopped"

    with pytest.raises(TaskDeferred) as deferred:
        _stage_operator(killable_runtime, "splat-takeover-failed", SLEEPING).execute(_try_context(3))

    newest = _job_names(killable_runtime, "splat-takeover-failed")
    assert len(newest) == 3, "a stopped job is not taken over"
    assert deferred.value.trigger.job_name == newest[2]
    sagemaker.stop_processing_job(ProcessingJobName=newest[2])


@pytest.mark.parametrize(("code", "retried"), [("NO_OVERLAP", False), ("INTERNAL", True)])
def test_a_retry_after_a_failed_job_follows_its_failure_code(
    killable_runtime: EmbeddedRuntime, code: str, retried: bool
) -> None:
    name = f"splat-takeover-{code.lower().replace('_', '')}"
    sagemaker = _first_try(killable_runtime, name, ["--mode", "fail", "--code", code])
    assert _status(sagemaker, name) == "Failed"

    retry = _stage_operator(killable_runtime, name, SLEEPING)
    if retried:
        with pytest.raises(TaskDeferred) as deferred:
            retry.execute(_try_context(2))
        sagemaker.stop_processing_job(ProcessingJobName=deferred.value.trigger.job_name)
    else:
        with pytest.raises(AirflowFailException, match=f"not retrying: .*{code}"):
            retry.execute(_try_context(2))
    assert len(_job_names(killable_runtime, name)) == (2 if retried else 1)


def test_a_cleared_run_starts_its_stage_again_as_a_new_generation(killable_runtime: EmbeddedRuntime) -> None:
    sagemaker = _first_try(killable_runtime, "splat-takeover-cleared", ["--mode", "sleep", "--seconds", "0"])
    assert _status(sagemaker, "splat-takeover-cleared") == "Completed"

    with pytest.raises(TaskDeferred) as deferred:
        _stage_operator(killable_runtime, "splat-takeover-cleared", SLEEPING).execute(_try_context(2, clear_number=1))

    assert deferred.value.trigger.job_name == "splat-takeover-cleared-c1"
    assert _job_names(killable_runtime, "splat-takeover-cleared") == [
        "splat-takeover-cleared",
        "splat-takeover-cleared-c1",
    ]
    sagemaker.stop_processing_job(ProcessingJobName="splat-takeover-cleared-c1")
    assert _status(sagemaker, "splat-takeover-cleared-c1") == "Stopped"


class _RecordingStage(_ScriptedStage):
    """The scripted stage, keeping the plan its request was built from."""

    built_from: ClassVar[list[PreparedRun]] = []

    def build_request(self, plan: PreparedRun, settings: PipelineSettings) -> dict[str, Any]:
        self.built_from.append(plan)
        return super().build_request(plan, settings)


def test_a_stage_builds_its_request_in_the_folders_of_the_runs_generation(killable_runtime: EmbeddedRuntime) -> None:
    """A retry within a generation writes (and resumes from) the same folders; a cleared run's new
    generation gets its own, so it neither resumes nor overwrites the previous generation's."""
    name = "splat-generation-folders"
    scripted = _stage_operator(killable_runtime, name, ["--mode", "sleep", "--seconds", "0"])
    recording = _RecordingStage(
        task_id="compress", plan=scripted.plan, request=scripted.request, deferrable=True, check_interval=1
    )
    for try_number, clear_number in ((1, 0), (2, 0), (3, 1)):
        with contextlib.suppress(TaskDeferred):
            recording.execute(_try_context(try_number, clear_number=clear_number))

    layouts = [plan.layout for plan in _RecordingStage.built_from]
    assert [layout.checkpoints for layout in layouts] == [
        f"s3://{TAKEOVER_BUCKET}/runs/{name}/checkpoints/",
        f"s3://{TAKEOVER_BUCKET}/runs/{name}/checkpoints/",
        f"s3://{TAKEOVER_BUCKET}/runs/{name}/c1/checkpoints/",
    ]
    assert layouts[2].compress_output == f"s3://{TAKEOVER_BUCKET}/runs/{name}/c1/compress/"
