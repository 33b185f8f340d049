"""
### Drone photos to a Gaussian Splat

Turns a ZIP of overlapping photos in S3 into a compressed 3D Gaussian Splat and emails the
result. Start it from the trigger form, the REST API
(`POST /api/v2/dags/splat_pipeline/dagRuns` with `conf`), or the `splat_reprocess` DAG.

| task | runs as | what it does |
|---|---|---|
| `validate` | Airflow task | checks the URL, the bucket allow-list, the email, the steps and the stages' settings |
| `wait_for_input` | S3 sensor | waits while an upload of the file is in progress; fails in a minute if none is |
| `sfm` | SageMaker Processing | photo alignment with COLMAP: cameras and a sparse model |
| `train` | SageMaker Training (GPU) | 3D Gaussian Splatting, checkpointed, early-stopped |
| `compress` | SageMaker Processing | SOG compression with a quality check, from the training job's output |
| `publish` | Airflow task | manifest (written last), the viewer page |
| `deliver` | EmailOperator | the result email, its links presigned as it goes out, sent once |
| `on_failure` | EmailOperator | after a failure: which step and why, emailed once; then fails, keeping the run red |

Each stage task skips when this run does not start it, and otherwise builds its SageMaker job
request from the run's plan when it runs (its log shows the request). `steps` picks `full`,
`train_and_compress` (reuse an SfM output) or `compress_only` (reuse a trained model). The plan
and the jobs' results travel as task arguments (the graph's extra edges from `validate` and
`train`). A failure anywhere fails every task after it, so `on_failure`, which follows the last
one, runs after any failure. Deployment settings are `SPLATFLOW_*` environment
variables (see the README).
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import DAG, Param, TriggerRule, chain, task

from splatflow.pipeline import ids, tasks
from splatflow.pipeline.emails.operators import FailureEmailOperator, ResultEmailOperator
from splatflow.pipeline.operators import CompressOperator, SfmOperator, TrainingOperator
from splatflow.pipeline.s3_locations import MAX_URL_CHARS
from splatflow.pipeline.sensors import UploadSensor
from splatflow.pipeline.settings import PipelineSettings
from splatflow.pipeline.submission import MAX_EMAIL_CHARS, PRESETS, STEPS

SETTINGS = PipelineSettings.from_environment()
UPLOAD_BUCKETS = " or ".join(sorted(SETTINGS.allowed_buckets)) or "no bucket yet (SPLATFLOW_ALLOWED_BUCKETS)"
EXAMPLE_BUCKET = min(SETTINGS.allowed_buckets, default="bucket")
REUSE_SECTION = "Reuse an earlier run's output"
"""Where the form keeps the fields a first run leaves alone: the steps and what they reuse."""


def _attempts(max_runtime_seconds: int) -> int:
    """Enough status checks to outlast the job (the providers' default gives up after ~30 min)."""
    return math.ceil(max_runtime_seconds / SETTINGS.check_interval_seconds) + 10


def _job_args(max_runtime_seconds: int) -> dict[str, Any]:
    """What every stage task shares: it waits deferred and runs after a stage this run skipped."""
    return {
        "deferrable": True,
        "check_interval": SETTINGS.check_interval_seconds,
        "max_attempts": _attempts(max_runtime_seconds),
        "action_if_job_exists": "timestamp",
        "trigger_rule": TriggerRule.NONE_FAILED,
    }


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
        # The trigger form marks a param whose type does not allow null as required, shows an error
        # while it is empty and keeps Trigger disabled until it is filled: right for the email, which
        # every run needs, wrong for the photos, which a run reusing an earlier output has none of.
        # Params with a default allow null and take their default when emptied.
        "s3_url": Param(
            "",
            type=["null", "string"],
            maxLength=MAX_URL_CHARS,
            title="Photos (ZIP) in S3",
            description=f"Needed for a full run (the default): the ZIP of the photos, e.g. "
            f"s3://{EXAMPLE_BUCKET}/site-42/photos.zip, or its https://…amazonaws.com/… URL; only from "
            f"{UPLOAD_BUCKETS}. Leave it empty only when reusing an earlier run's output (below).",
        ),
        "email": Param(
            "",
            type="string",
            maxLength=MAX_EMAIL_CHARS,
            title="Email",
            description="Where the result (or the reason it failed) is sent, e.g. pilot@example.com.",
        ),
        "preset": Param(
            "standard",
            type=["null", "string"],
            enum=[None, *PRESETS],
            title="Quality preset",
            description="preview is fast and rough, high is slow and sharp; standard (the default) suits most "
            "drone surveys.",
        ),
        "steps": Param(
            "full",
            type=["null", "string"],
            enum=[None, *STEPS],
            title="Steps",
            section=REUSE_SECTION,
            description="full (the default): photos to splat; train_and_compress: reuse an SfM output; "
            "compress_only: reuse a model.",
        ),
        "sfm_output_url": Param(
            "",
            type=["null", "string"],
            maxLength=MAX_URL_CHARS,
            title="SfM output (for train_and_compress)",
            section=REUSE_SECTION,
            description="S3 prefix of an earlier run's SfM output, e.g. s3://work-bucket/runs/<run>/sfm/.",
        ),
        "model_url": Param(
            "",
            type=["null", "string"],
            maxLength=MAX_URL_CHARS,
            title="Trained model (for compress_only)",
            section=REUSE_SECTION,
            description="S3 URI of a 3DGS .ply, a model.tar.gz, or an earlier run's model folder "
            "(s3://work-bucket/runs/<run>/train/<job>/output/model/).",
        ),
    },
) as dag:
    # A refusal fails validate at once (AirflowFailException); an AWS error that may pass is retried.
    plan = task(task_id=ids.VALIDATE)(tasks.validate)()

    wait_for_input = UploadSensor(
        task_id=ids.WAIT_FOR_INPUT,
        bucket_key=plan["wait_for_uri"],
        mode="reschedule",
        poke_interval=SETTINGS.input_poke_seconds,
        timeout=SETTINGS.input_wait_seconds,
        grace_seconds=SETTINGS.input_grace_seconds,
        retries=0,
    )

    sfm = SfmOperator(task_id=ids.SFM, plan=plan, **_job_args(SETTINGS.sfm.max_runtime_seconds))
    train = TrainingOperator(
        task_id=ids.TRAIN,
        plan=plan,
        sfm=sfm.output,
        print_log=True,
        pool=SETTINGS.gpu_pool,
        **_job_args(SETTINGS.train.max_runtime_seconds + SETTINGS.spot_max_wait_seconds),
    )
    compress = CompressOperator(
        task_id=ids.COMPRESS, plan=plan, training=train.output, **_job_args(SETTINGS.compress.max_runtime_seconds)
    )

    manifest = task(task_id=ids.PUBLISH, trigger_rule=TriggerRule.NONE_FAILED)(tasks.publish)(
        plan, sfm.output, train.output, compress.output
    )

    deliver = ResultEmailOperator(task_id=ids.DELIVER, plan=plan, manifest=manifest)

    on_failure = FailureEmailOperator(task_id=ids.ON_FAILURE, plan=plan, trigger_rule=TriggerRule.ONE_FAILED)

    chain(plan, wait_for_input, sfm, train, compress, manifest, deliver, on_failure)
