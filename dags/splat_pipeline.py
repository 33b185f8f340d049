"""
### Drone photos to a Gaussian Splat

Turns a ZIP of overlapping photos in S3 into a compressed 3D Gaussian Splat and emails the
result. Start it from the trigger form, the REST API
(`POST /api/v2/dags/splat_pipeline/dagRuns` with `conf`), or the `splat_reprocess` DAG.

| task | runs as | what it does |
|---|---|---|
| `validate` | Airflow task | checks the URL, the bucket allow-list, the email, the steps and the stages' settings |
| `wait_for_input` | S3 sensor | waits (bounded) for an upload still arriving |
| `sfm.gate`, `train.gate`, `compress.gate` | Airflow task | skips the stage when this run does not start it |
| `sfm.request`, `train.request`, `compress.request` | Airflow task | the stage's SageMaker job request |
| `sfm.job` | SageMaker Processing | photo alignment with COLMAP: cameras and a sparse model |
| `train.job` | SageMaker Training (GPU) | 3D Gaussian Splatting, checkpointed, early-stopped |
| `compress.job` | SageMaker Processing | SOG compression with a quality check |
| `publish` | Airflow task | manifest (written last), the viewer page |
| `deliver` | EmailOperator | the result email, its links presigned as it goes out, sent once |
| `on_failure.send_email` | EmailOperator | after any failure: the failed step and why, in an email sent once |
| `on_failure.fail_run` | Airflow task | keeps the run marked failed after the failure email went out |

`steps` picks `full`, `train_and_compress` (reuse an SfM output) or `compress_only` (reuse a
trained model). A failure anywhere fails every task after it, so `on_failure`, which follows
the last one, runs after any failure. Deployment settings are `SPLATFLOW_*` environment
variables (see the README).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pendulum
from airflow.providers.amazon.aws.sensors.s3 import S3KeySensor
from airflow.sdk import DAG, Param, TaskGroup, TriggerRule, chain, task

from splatflow.pipeline import ids, tasks
from splatflow.pipeline.email_operator import FailureEmailOperator, ResultEmailOperator
from splatflow.pipeline.operators import StageProcessingOperator, StageTrainingOperator
from splatflow.pipeline.settings import PipelineSettings
from splatflow.pipeline.submission import MAX_EMAIL_CHARS, MAX_URL_CHARS, PRESETS, STEPS

SETTINGS = PipelineSettings.from_environment()


def _attempts(max_runtime_seconds: int) -> int:
    """Enough status checks to outlast the job (the providers' default gives up after ~30 min)."""
    return math.ceil(max_runtime_seconds / SETTINGS.check_interval_seconds) + 10


def stage(
    name: str,
    request: Callable[[], dict[str, Any]],
    job: type[StageProcessingOperator | StageTrainingOperator],
    max_runtime_seconds: int,
    **job_args: Any,
) -> TaskGroup:
    """A stage as one task group: its gate, its job request, its SageMaker job."""
    with TaskGroup(name) as group:
        # The gate runs after a skipped stage too; a failed one fails it.
        gate = task(task_id=ids.GATE, trigger_rule=TriggerRule.NONE_FAILED)(tasks.stage_gate)(name)
        config = task(task_id=ids.REQUEST)(request)()
        submitted = job(
            task_id=ids.JOB,
            config=config,
            deferrable=True,
            check_interval=SETTINGS.check_interval_seconds,
            max_attempts=_attempts(max_runtime_seconds),
            action_if_job_exists="timestamp",
            **job_args,
        )
        chain(gate, config, submitted)
    return group


with DAG(
    dag_id=ids.PIPELINE_DAG_ID,
    description="Drone photos in S3 to a compressed 3D Gaussian Splat, delivered by email",
    doc_md=__doc__,
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=20,
    tags=["splatflow", "sagemaker", "3d"],
    default_args={
        "owner": "splatflow",
        "retries": 2,
        "retry_delay": timedelta(seconds=SETTINGS.retry_delay_seconds),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=10),
    },
    params={
        "s3_url": Param(
            "",
            type=["null", "string"],
            maxLength=MAX_URL_CHARS,
            title="Photos (ZIP) in S3",
            description="s3://bucket/key.zip or an https://…amazonaws.com/… URL of the ZIP (needed for 'full').",
        ),
        "email": Param(
            "",
            type="string",
            maxLength=MAX_EMAIL_CHARS,
            title="Email",
            description="Where the result (or the reason it failed) is sent.",
        ),
        "steps": Param(
            "full",
            type="string",
            enum=list(STEPS),
            title="Steps",
            description="full: photos to splat; train_and_compress: reuse an SfM output; compress_only: reuse a model.",
        ),
        "preset": Param(
            "standard",
            type="string",
            enum=list(PRESETS),
            title="Quality preset",
            description="preview is fast and rough, high is slow and sharp; standard suits most drone surveys.",
        ),
        "sfm_output_url": Param(
            "",
            type=["null", "string"],
            maxLength=MAX_URL_CHARS,
            title="SfM output (for train_and_compress)",
            description="S3 prefix of an earlier run's SfM output, e.g. s3://work-bucket/runs/<run>/sfm/.",
        ),
        "model_url": Param(
            "",
            type=["null", "string"],
            maxLength=MAX_URL_CHARS,
            title="Trained model (for compress_only)",
            description="S3 URI of a model.tar.gz from a training job, or of a 3DGS .ply.",
        ),
    },
) as dag:
    plan = task(task_id=ids.VALIDATE, retries=0)(tasks.validate)()

    wait_for_input = S3KeySensor(
        task_id=ids.WAIT_FOR_INPUT,
        bucket_key=plan["wait_for_uri"],
        mode="reschedule",
        poke_interval=SETTINGS.input_poke_seconds,
        timeout=SETTINGS.input_wait_seconds,
        retries=0,
    )

    sfm = stage(ids.SFM, tasks.sfm_request, StageProcessingOperator, SETTINGS.sfm.max_runtime_seconds)
    train = stage(
        ids.TRAIN,
        tasks.training_request,
        StageTrainingOperator,
        SETTINGS.train.max_runtime_seconds + SETTINGS.spot_max_wait_seconds,
        print_log=True,
        pool=SETTINGS.gpu_pool,
    )
    compress = stage(
        ids.COMPRESS, tasks.compress_request, StageProcessingOperator, SETTINGS.compress.max_runtime_seconds
    )

    manifest = task(task_id=ids.PUBLISH)(tasks.publish)()

    deliver = ResultEmailOperator(task_id=ids.DELIVER, manifest=manifest)

    with TaskGroup(ids.ON_FAILURE) as on_failure:
        failure_email = FailureEmailOperator(task_id=ids.SEND_EMAIL, trigger_rule=TriggerRule.ONE_FAILED)
        # The failure email succeeds when a step fails; failing here keeps the run itself red.
        chain(failure_email, task(task_id=ids.FAIL_RUN, retries=0)(tasks.fail_run)())

    chain(plan, wait_for_input, sfm, train, compress, manifest, deliver, on_failure)
