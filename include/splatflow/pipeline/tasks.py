"""The callables behind ``splat_pipeline``'s TaskFlow tasks.

The DAG file only wires these together; each reads what it needs from the task context (params,
run id, upstream XComs), builds its hooks from the ``aws_default``/``smtp_default`` connections
and hands plain values to the pure modules (``preparation``, ``publishing``, ``delivery``…),
which is where the logic lives and is tested.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook
from airflow.sdk import get_current_context
from airflow.sdk.exceptions import AirflowFailException
from botocore.config import Config

from splatflow.pipeline import delivery, failures, preparation, publishing, reprocessing
from splatflow.pipeline.jobs import STAGE_JOB_KINDS
from splatflow.pipeline.preparation import PreparedRun
from splatflow.pipeline.settings import PipelineSettings
from splatflow.pipeline.submission import SubmissionError

log = logging.getLogger(__name__)

AWS_CONN_ID = "aws_default"
SMTP_CONN_ID = "smtp_default"


def _s3() -> Any:
    """S3 with SigV4 signing: presigned links then carry X-Amz-Expires and may live up to 7 days."""
    # Merged into the connection's own config, so its retry settings (``config_kwargs``) still apply.
    hook = S3Hook(aws_conn_id=AWS_CONN_ID)
    return hook.get_client_type(config=hook.config.merge(Config(signature_version="s3v4")))


def _sagemaker() -> Any:
    return SageMakerHook(aws_conn_id=AWS_CONN_ID).get_conn()


def _prepared(payload: dict[str, Any]) -> PreparedRun:
    return PreparedRun.from_dict(payload)


def validate() -> dict[str, Any]:
    """Check the submission; bad input fails at once (no retry) with the reason kept for the email."""
    context = get_current_context()
    settings = PipelineSettings.from_environment()
    try:
        prepared = preparation.prepare_run(context["params"], context["run_id"], settings, _s3())
    except SubmissionError as exc:
        context["ti"].xcom_push(key=failures.REASON_XCOM_KEY, value=str(exc))
        raise AirflowFailException(str(exc)) from None
    log.info("run %s: %s from %s", prepared.run_id, prepared.submission.steps, prepared.wait_for_uri)
    return prepared.to_dict()


def runs_sfm(prepared: dict[str, Any]) -> bool:
    return _prepared(prepared).runs_sfm


def runs_training(prepared: dict[str, Any]) -> bool:
    return _prepared(prepared).runs_training


def sfm_request(prepared: dict[str, Any]) -> dict[str, Any]:
    return preparation.sfm_request(_prepared(prepared), PipelineSettings.from_environment())


def training_request(prepared: dict[str, Any]) -> dict[str, Any]:
    return preparation.training_request(_prepared(prepared), PipelineSettings.from_environment())


def compress_request(prepared: dict[str, Any]) -> dict[str, Any]:
    training_result = get_current_context()["ti"].xcom_pull(task_ids="train")
    return preparation.compress_request(_prepared(prepared), PipelineSettings.from_environment(), training_result)


def publish(prepared: dict[str, Any]) -> dict[str, Any]:
    """Collect the stage reports, write ``manifest.json`` last, and presign the download links."""
    context = get_current_context()
    ti = context["ti"]
    results = {stage: ti.xcom_pull(task_ids=stage) for stage in STAGE_JOB_KINDS}
    descriptions = publishing.describe_stage_jobs(results, _sagemaker())
    started = context["dag_run"].start_date
    settings = PipelineSettings.from_environment()
    return publishing.publish_run(_prepared(prepared), settings, _s3(), descriptions, started)


def deliver(prepared: dict[str, Any], published: dict[str, Any]) -> None:
    """Send the result email once; a cleared or re-run task finds the delivery record and stops."""
    delivery.deliver_success(_prepared(prepared), published, _s3(), SMTP_CONN_ID, PipelineSettings.from_environment())


def notify_failure() -> None:
    """Email the stage that failed and why, in plain words; never a stack trace."""
    context = get_current_context()
    ti = context["ti"]
    settings = PipelineSettings.from_environment()
    states = ti.get_task_states(dag_id=ti.dag_id, run_ids=[ti.run_id]).get(ti.run_id, {})
    prepared_payload = ti.xcom_pull(task_ids="validate")
    prepared = _prepared(prepared_payload) if prepared_payload else None
    reasons = {task_id: ti.xcom_pull(task_ids=task_id, key=failures.REASON_XCOM_KEY) for task_id in states}
    failure = failures.explain_failure(
        states,
        reasons,
        run_id=ti.run_id,
        sagemaker=_sagemaker(),
        input_wait_seconds=settings.input_wait_seconds,
    )
    delivery.deliver_failure(context["params"], ti.run_id, prepared, failure, _s3(), SMTP_CONN_ID, settings)


def fail_run() -> None:
    """Runs only when a stage failed: the run must end failed even though the failure email succeeded."""
    raise AirflowFailException("a stage of this run failed; the failure email names it and the reason")


def find_due_submissions() -> list[dict[str, Any]]:
    """The submissions to run again (none on a dry run, which only logs them)."""
    params = get_current_context()["params"]
    settings = PipelineSettings.from_environment()
    due = reprocessing.due_submissions(_s3(), settings.work_bucket, int(params["max_submissions"]))
    for conf in due:
        log.info(
            "due: %s (%s)", conf.get("s3_url") or conf.get("sfm_output_url") or conf.get("model_url"), conf["steps"]
        )
    if params["dry_run"]:
        log.info("dry run: %d submissions would run again; none started", len(due))
        return []
    return due
