"""
### Batch reprocessing of failed and outdated submissions

Reads every run's `manifest.json` in the work bucket and starts `splat_pipeline` again for each
submission whose latest run was made by an older pipeline version (after an upgrade), or failed
in a way another run may fix: a transient failure (`TIME_LIMIT`, `SERVICE_INTERRUPTED`,
`INTERNAL`), or any failure of an older pipeline version. A failure the same input repeats
(`NO_OVERLAP`, `TOO_FEW_PHOTOS`…) is not rerun, and no submission is tried more than
`SPLATFLOW_REPROCESS_MAX_ATTEMPTS` (3) times in a row by one pipeline version. Each submission is
re-checked against the bucket allow-list by the pipeline itself.

| task | runs as | what it does |
|---|---|---|
| `find_due_submissions` | Airflow task | the runs due, longest waiting first (none on a dry run: it logs them) |
| `rerun` | TriggerDagRunOperator, mapped | starts `splat_pipeline` once per due submission |

Each rerun's run id is derived from the submission and its attempt, so a run still in progress
when the next batch comes is skipped, never started twice.

It runs daily (`SPLATFLOW_REPROCESS_SCHEDULE`: a cron expression or preset, or `none` to run
only when triggered, as the local stack has it). Params: `dry_run` lists what would run without
starting anything; `max_submissions` bounds the `splat_pipeline` runs in progress (queued or
running, this batch's included): a backlog drains a batch a day. The pipeline's GPU pool bounds
concurrent training jobs on top.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import DAG, Param, task

from splatflow.pipeline import ids, tasks
from splatflow.pipeline.settings import PipelineSettings

SETTINGS = PipelineSettings.from_environment()

with DAG(
    dag_id=ids.REPROCESS_DAG_ID,
    description="Re-run splat_pipeline for failed or outdated submissions",
    doc_md=__doc__,
    schedule=SETTINGS.reprocess_schedule,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["splatflow", "batch"],
    default_args={
        "owner": "splatflow",
        "retries": 2,
        "retry_delay": timedelta(minutes=1),
        "retry_exponential_backoff": True,
    },
    params={
        "dry_run": Param(False, type="boolean", description="List the due submissions without starting runs."),
        "max_submissions": Param(
            50,
            type="integer",
            minimum=1,
            maximum=1000,
            description="At most this many pipeline runs in progress once this batch has started its runs.",
        ),
    },
) as dag:
    due = task(task_id=ids.FIND_DUE)(tasks.find_due_submissions)()
    TriggerDagRunOperator.partial(
        task_id=ids.RERUN,
        trigger_dag_id=ids.PIPELINE_DAG_ID,
        wait_for_completion=False,
        max_active_tis_per_dag=4,
        skip_when_already_exists=True,
    ).expand_kwargs(due)
