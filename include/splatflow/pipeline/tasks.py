"""The callables behind the DAGs' TaskFlow tasks.

The DAG files only wire these together; each takes what an earlier step made as its arguments
(the run's plan, the stage jobs' results), reads the rest from the task context (params, run id),
builds its hooks from the ``aws_default`` connection and hands plain values to the modules where
the logic lives and is tested (``preparation``, ``publishing``, ``failures``…).

A task with nothing to do for this run raises ``AirflowSkipException``: that is the pipeline's one
way of skipping (a stage this run does not start, a step of a delivered run), and the next step
runs after a skipped one. The stage jobs and the emails are operators of their own
(``operators``, ``email_operator``).
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import get_current_context
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from splatflow.contract.failures import FailureCode, format_failure_reason
from splatflow.pipeline import failures, ids, preparation, publishing, reprocessing
from splatflow.pipeline.clients import s3_client, sagemaker_client
from splatflow.pipeline.refusal import SubmissionError
from splatflow.pipeline.run_plan import PreparedRun
from splatflow.pipeline.settings import PipelineSettings, SettingsError

log = logging.getLogger(__name__)


def validate() -> dict[str, Any]:
    """Check the submission and the stages' settings; a refusal fails at once (no retry), with its
    failure line kept for the email."""
    context = get_current_context()
    try:
        settings = PipelineSettings.from_environment()
        prepared = preparation.prepare_run(context["params"], context["run_id"], settings, s3_client())
    except (SubmissionError, SettingsError) as exc:
        code = exc.code if isinstance(exc, SubmissionError) else FailureCode.INVALID_SETTINGS
        reason = format_failure_reason(ids.VALIDATE, code, str(exc))
        context["ti"].xcom_push(key=failures.REASON_XCOM_KEY, value=reason)
        raise AirflowFailException(reason) from None
    log.info("run %s: %s from %s", prepared.run_id, prepared.submission.steps, prepared.wait_for_uri)
    return prepared.to_dict()


def publish(
    plan: dict[str, Any],
    sfm: dict[str, Any] | None,
    train: dict[str, Any] | None,
    compress: dict[str, Any] | None,
) -> dict[str, Any]:
    """Collect the stage reports, write ``manifest.json`` last, and publish the viewer page.

    Each stage's argument is its task's result (None for a stage this run did not start).
    """
    prepared = PreparedRun.from_dict(plan)
    if prepared.delivered:
        raise AirflowSkipException(f"run {prepared.run_id} already delivered its result; its outputs stay as sent")
    results = {ids.SFM: sfm, ids.TRAIN: train, ids.COMPRESS: compress}
    descriptions = publishing.describe_stage_jobs(results, sagemaker_client())
    started = get_current_context()["dag_run"].start_date
    return publishing.publish_run(prepared, PipelineSettings.from_environment(), s3_client(), descriptions, started)


def find_due_submissions() -> list[dict[str, Any]]:
    """The pipeline runs to start again, as the trigger task's arguments (none on a dry run).

    ``max_submissions`` bounds the pipeline runs in progress, counted as Airflow sees them (queued or
    running, whoever started them), so a backlog drains a batch at a time instead of all at once.
    """
    context = get_current_context()
    params = context["params"]
    settings = PipelineSettings.from_environment()
    in_progress = context["ti"].get_dr_count(dag_id=ids.PIPELINE_DAG_ID, states=["queued", "running"])
    due = reprocessing.due_runs(
        s3_client(),
        settings.work_bucket,
        limit=int(params["max_submissions"]),
        in_progress=in_progress,
        max_attempts=settings.reprocess_max_attempts,
    )
    for run in due:
        log.info("due: %s (%s) as %s", run.submission.source.name, run.submission.steps, run.run_id)
    if params["dry_run"]:
        log.info("dry run: %d submissions would run again; none started", len(due))
        return []
    return [run.trigger_kwargs() for run in due]
