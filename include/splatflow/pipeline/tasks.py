"""The callables behind the DAGs' TaskFlow tasks.

The DAG files only wire these together; each reads what it needs from the task context (params,
run id, the run's plan and other upstream XComs, looked up by the ids in ``ids`` so the graph
shows the order of the steps rather than an edge from ``validate`` to each), builds its hooks
from the ``aws_default`` connection and hands plain values to the modules where the logic lives
and is tested (``preparation``, ``publishing``, ``delivery``, ``failures``…).

A task with nothing to do for this run raises ``AirflowSkipException``: that is the pipeline's one
way of skipping (a stage's gate, a stage of a delivered run), and the next stage's gate runs
after a skipped one. The emails are sent by operators of their own (``email_operator``).
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import get_current_context
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from splatflow.contract.failures import FailureCode, format_failure_reason
from splatflow.pipeline import failures, ids, preparation, publishing, reprocessing
from splatflow.pipeline.clients import s3_client, sagemaker_client
from splatflow.pipeline.jobs import STAGE_JOB_KINDS
from splatflow.pipeline.plan import PreparedRun
from splatflow.pipeline.settings import PipelineSettings, SettingsError
from splatflow.pipeline.submission import SubmissionError

log = logging.getLogger(__name__)


def _plan() -> PreparedRun:
    """The run's plan, as ``validate`` made it."""
    return PreparedRun.from_dict(get_current_context()["ti"].xcom_pull(task_ids=ids.VALIDATE))


def validate() -> dict[str, Any]:
    """Check the submission and the stages' settings; a refusal fails at once (no retry), with its
    failure line kept for the email."""
    context = get_current_context()
    settings = PipelineSettings.from_environment()
    try:
        prepared = preparation.prepare_run(context["params"], context["run_id"], settings, s3_client())
    except (SubmissionError, SettingsError) as exc:
        code = exc.code if isinstance(exc, SubmissionError) else FailureCode.INVALID_SETTINGS
        reason = format_failure_reason(ids.VALIDATE, code, str(exc))
        context["ti"].xcom_push(key=failures.REASON_XCOM_KEY, value=reason)
        raise AirflowFailException(reason) from None
    log.info("run %s: %s from %s", prepared.run_id, prepared.submission.steps, prepared.wait_for_uri)
    return prepared.to_dict()


def stage_gate(stage: str) -> None:
    """Let ``stage``'s request and job run only when this run starts that job."""
    plan = _plan()
    if plan.delivered:
        raise AirflowSkipException(f"run {plan.run_id} already delivered its result; its outputs stay as sent")
    if not plan.starts(stage):
        raise AirflowSkipException(f"steps '{plan.submission.steps}' do not include the {stage} stage")


def sfm_request() -> dict[str, Any]:
    return preparation.sfm_request(_plan(), PipelineSettings.from_environment())


def training_request() -> dict[str, Any]:
    return preparation.training_request(_plan(), PipelineSettings.from_environment())


def compress_request() -> dict[str, Any]:
    training_result = get_current_context()["ti"].xcom_pull(task_ids=ids.stage_job(ids.TRAIN))
    return preparation.compress_request(_plan(), PipelineSettings.from_environment(), training_result)


def publish() -> dict[str, Any]:
    """Collect the stage reports, write ``manifest.json`` last, and publish the viewer page."""
    context = get_current_context()
    ti = context["ti"]
    results = {stage: ti.xcom_pull(task_ids=ids.stage_job(stage)) for stage in STAGE_JOB_KINDS}
    descriptions = publishing.describe_stage_jobs(results, sagemaker_client())
    started = context["dag_run"].start_date
    settings = PipelineSettings.from_environment()
    return publishing.publish_run(_plan(), settings, s3_client(), descriptions, started)


def fail_run() -> None:
    """Runs only after a failure email: the run must end failed even though that email succeeded."""
    raise AirflowFailException("a step of this run failed; the failure email names it and the reason")


def find_due_submissions() -> list[dict[str, Any]]:
    """The submissions to run again (none on a dry run, which only logs them)."""
    params = get_current_context()["params"]
    settings = PipelineSettings.from_environment()
    due = reprocessing.due_submissions(s3_client(), settings.work_bucket, int(params["max_submissions"]))
    for conf in due:
        log.info(
            "due: %s (%s)", conf.get("s3_url") or conf.get("sfm_output_url") or conf.get("model_url"), conf["steps"]
        )
    if params["dry_run"]:
        log.info("dry run: %d submissions would run again; none started", len(due))
        return []
    return due
