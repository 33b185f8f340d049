"""The run's emails, sent by the smtp provider's ``EmailOperator`` through ``smtp_default``.

Each subclass composes its email when it runs (``delivery``), so what only the send may know
stays out of XComs, rendered fields and logs: the result email's download links are presigned
then, and the failure email reads the run's task states then. Besides sending, the operator does
what a run's email needs:

- its pictures live in S3: each is downloaded and attached under its file name (the SMTP hook
  gives an attachment its file name as Content-ID, which the HTML's ``cid:`` references use);
- it goes out once: the email's entry in the run's ``delivered.json`` (``records``) is checked
  before sending, so a cleared or re-run task sends nothing, and written once the SMTP server has
  taken the message;
- an email without a usable address (a submission refused for it) is not sent.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from airflow.providers.smtp.operators.smtp import EmailOperator

from splatflow.pipeline import delivery, failures, ids
from splatflow.pipeline.clients import s3_client, sagemaker_client
from splatflow.pipeline.delivery import OutgoingEmail
from splatflow.pipeline.plan import PreparedRun
from splatflow.pipeline.records import email_sent, mark_email_sent
from splatflow.pipeline.settings import PipelineSettings


def download_attachments(s3: Any, uris: Sequence[str], folder: Path) -> list[str]:
    """Each S3 object as ``folder/<its file name>``, in order."""
    paths = []
    for uri in uris:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        path = folder / key.rsplit("/", 1)[-1]
        s3.download_file(bucket, key, str(path))
        paths.append(str(path))
    return paths


def run_plan(context: Any) -> PreparedRun | None:
    """The run's plan, as ``validate`` made it (None when the input check refused the run)."""
    plan = context["ti"].xcom_pull(task_ids=ids.VALIDATE)
    return PreparedRun.from_dict(plan) if plan else None


class RunEmailOperator(EmailOperator):
    """Sends the email :meth:`compose` returns, once, with its pictures fetched from S3."""

    def __init__(self, **kwargs: Any) -> None:
        # The address is the run's own, known once the email is composed.
        super().__init__(to=[], **kwargs)

    def compose(self, context: Any, settings: PipelineSettings, s3: Any) -> OutgoingEmail:
        raise NotImplementedError

    def execute(self, context: Any) -> None:
        settings = PipelineSettings.from_environment()
        s3 = s3_client()
        email = self.compose(context, settings, s3)
        if not email.to:
            self.log.warning("the submission gave no usable email address; nothing is sent")
            return
        record = email.delivery_record
        if record is not None and email_sent(s3, record.layout, record.entry):
            self.log.info("this run's %s email was sent already; not sending it again", record.entry)
            return
        self.to, self.subject, self.html_content = email.to, email.subject, email.html_content
        with tempfile.TemporaryDirectory() as folder:
            self.files = download_attachments(s3, email.files, Path(folder))
            super().execute(context)
        if record is not None:
            mark_email_sent(s3, record.layout, record.entry, email.to, settings.kms_key_id)
        self.log.info("email sent: %s", email.subject)


class ResultEmailOperator(RunEmailOperator):
    """The result email of a published run: its figures, download links presigned as it is sent,
    and its stills inline."""

    template_fields: Sequence[str] = (*EmailOperator.template_fields, "manifest")

    def __init__(self, *, manifest: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.manifest = manifest

    def compose(self, context: Any, settings: PipelineSettings, s3: Any) -> OutgoingEmail:
        plan = run_plan(context)
        if plan is None:
            raise RuntimeError("a published run has no plan: the validate task's XCom is missing")
        return delivery.compose_result_email(plan, self.manifest, settings, s3)


class FailureEmailOperator(RunEmailOperator):
    """The failure email: the first step of the run that failed and why, in plain words, after a
    failed manifest is recorded for batch reprocessing."""

    def compose(self, context: Any, settings: PipelineSettings, s3: Any) -> OutgoingEmail:
        ti = context["ti"]
        states = ti.get_task_states(dag_id=ti.dag_id, run_ids=[ti.run_id]).get(ti.run_id, {})
        reasons = {
            task_id: ti.xcom_pull(task_ids=task_id, key=failures.REASON_XCOM_KEY)
            for task_id, state in states.items()
            if state == "failed"
        }
        failure = failures.explain_failure(
            states,
            reasons,
            run_id=ti.run_id,
            sagemaker=sagemaker_client(),
            input_wait_seconds=settings.input_wait_seconds,
        )
        return delivery.compose_failure_email(context["params"], ti.run_id, run_plan(context), failure, settings, s3)
