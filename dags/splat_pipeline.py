"""
### Drone photos to a Gaussian Splat

Turns a ZIP of overlapping photos in S3 into a compressed 3D Gaussian Splat and emails the
result. Start it from the trigger form, the REST API
(`POST /api/v2/dags/splat_pipeline/dagRuns` with `conf`), or the `splat_reprocess` DAG.

| step | runs as | what it does |
|---|---|---|
| `validate` | Airflow task | checks the URL form, the bucket allow-list, the email and the steps |
| `wait_for_input` | S3 sensor | waits (bounded) for an upload still arriving |
| `sfm` | SageMaker Processing | photo alignment with COLMAP: cameras and a sparse model |
| `train` | SageMaker Training (GPU) | 3D Gaussian Splatting, checkpointed, early-stopped |
| `compress` | SageMaker Processing | SOG compression with a quality check |
| `publish` | Airflow task | manifest (written last), presigned links |
| `deliver` | Airflow task | the result email, sent once |
| `notify_failure` | Airflow task | on any failure: an email naming the stage and the reason |
| `fail_run` | Airflow task | on any failure: keeps the run marked failed after the email went out |

`steps` picks `full`, `train_and_compress` (reuse an SfM output) or `compress_only` (reuse a
trained model). Deployment settings are `SPLATFLOW_*` environment variables (see the README).
"""

from __future__ import annotations

import math
from datetime import timedelta

import pendulum
from airflow.providers.amazon.aws.sensors.s3 import S3KeySensor
from airflow.sdk import DAG, Param, TriggerRule, task

from splatflow.pipeline import tasks
from splatflow.pipeline.operators import StageProcessingOperator, StageTrainingOperator
from splatflow.pipeline.settings import PipelineSettings
from splatflow.pipeline.submission import MAX_EMAIL_CHARS, MAX_URL_CHARS, PRESETS, STEPS

SETTINGS = PipelineSettings.from_environment()


def _attempts(max_runtime_seconds: int) -> int:
    """Enough status checks to outlast the job (the providers' default gives up after ~30 min)."""
    return math.ceil(max_runtime_seconds / SETTINGS.check_interval_seconds) + 10


with DAG(
    dag_id="splat_pipeline",
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
    render_template_as_native_obj=True,
) as dag:
    validate = task(retries=0)(tasks.validate)()

    wait_for_input = S3KeySensor(
        task_id="wait_for_input",
        bucket_key="{{ ti.xcom_pull(task_ids='validate')['wait_for_uri'] }}",
        mode="reschedule",
        poke_interval=SETTINGS.input_poke_seconds,
        timeout=SETTINGS.input_wait_seconds,
        retries=0,
    )

    sfm_gate = task.short_circuit(ignore_downstream_trigger_rules=False)(tasks.runs_sfm)(validate)
    sfm_config = task(tasks.sfm_request)(validate)
    sfm = StageProcessingOperator(
        task_id="sfm",
        config=sfm_config,
        deferrable=True,
        check_interval=SETTINGS.check_interval_seconds,
        max_attempts=_attempts(SETTINGS.sfm.max_runtime_seconds),
        action_if_job_exists="timestamp",
    )

    train_gate = task.short_circuit(ignore_downstream_trigger_rules=False, trigger_rule=TriggerRule.NONE_FAILED)(
        tasks.runs_training
    )(validate)
    train_config = task(tasks.training_request)(validate)
    train = StageTrainingOperator(
        task_id="train",
        config=train_config,
        deferrable=True,
        print_log=True,
        check_interval=SETTINGS.check_interval_seconds,
        max_attempts=_attempts(SETTINGS.train.max_runtime_seconds + SETTINGS.spot_max_wait_seconds),
        action_if_job_exists="timestamp",
        pool=SETTINGS.gpu_pool,
    )

    compress_config = task(trigger_rule=TriggerRule.NONE_FAILED)(tasks.compress_request)(validate)
    compress = StageProcessingOperator(
        task_id="compress",
        config=compress_config,
        deferrable=True,
        check_interval=SETTINGS.check_interval_seconds,
        max_attempts=_attempts(SETTINGS.compress.max_runtime_seconds),
        action_if_job_exists="timestamp",
    )

    published = task(tasks.publish)(validate)
    delivered = task(tasks.deliver)(validate, published)
    failure_email = task(trigger_rule=TriggerRule.ONE_FAILED)(tasks.notify_failure)()
    # The failure email succeeds when a stage fails; this watcher keeps the run itself red.
    run_failed = task(trigger_rule=TriggerRule.ONE_FAILED, retries=0)(tasks.fail_run)()

    validate >> wait_for_input >> [sfm_gate, train_gate]
    sfm_gate >> sfm_config >> sfm >> train_gate
    train_gate >> train_config >> train >> compress_config >> compress >> published
    main_line = [validate, wait_for_input, sfm, train, compress_config, compress, published, delivered]
    main_line >> failure_email
    main_line >> run_failed
