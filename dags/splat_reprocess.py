"""
### Batch reprocessing of failed and outdated submissions

Reads every run's `manifest.json` in the work bucket and starts `splat_pipeline` again for each
submission whose latest run failed, or was made by an older pipeline version (after an
upgrade). Each submission is re-checked against the bucket allow-list by the pipeline itself.

| task | runs as | what it does |
|---|---|---|
| `find_due_submissions` | Airflow task | the submissions due, oldest first (none on a dry run, which only logs them) |
| `rerun` | TriggerDagRunOperator, mapped | starts `splat_pipeline` once per due submission, a few at a time |

Params: `dry_run` lists what would run without starting anything; `max_submissions` bounds one
batch. Concurrency is bounded twice: this DAG starts at most a few runs at a time, and the
pipeline's GPU pool bounds concurrent training jobs.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import DAG, Param, task

from splatflow.pipeline import ids, tasks

with DAG(
    dag_id=ids.REPROCESS_DAG_ID,
    description="Re-run splat_pipeline for failed or outdated submissions",
    doc_md=__doc__,
    schedule="@daily",
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
            50, type="integer", minimum=1, maximum=1000, description="At most this many runs per batch."
        ),
    },
) as dag:
    due = task(task_id=ids.FIND_DUE)(tasks.find_due_submissions)()
    TriggerDagRunOperator.partial(
        task_id=ids.RERUN,
        trigger_dag_id=ids.PIPELINE_DAG_ID,
        wait_for_completion=False,
        max_active_tis_per_dag=4,
    ).expand(conf=due)
