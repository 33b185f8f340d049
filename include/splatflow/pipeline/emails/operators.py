"""The run's emails, sent by subclasses of the smtp provider's ``EmailOperator`` through ``smtp_default``.

Each subclass composes its email when it runs (``delivery``), so what only the send may know
stays out of XComs, rendered fields and logs: the result email's download links are presigned
then, and the failure email reads the run's task states then. Besides sending, the operator does
what a run's email needs:

- it is shaped as mail apps expect (``message``): plain text and HTML as alternatives, the
  pictures inline, a ``Message-ID`` and a ``Date``. The provider's hook opens the connection
  (host, TLS, login, sender from ``smtp_default``); the message is built here, since the hook's
  own builder makes every picture a separate ``application/octet-stream`` attachment;
- its pictures live in S3: each is read and shown inline by the Content-ID its HTML names;
- it goes out once: the email's entry in the run's ``delivered.json`` (``records``) is checked
  before sending, so a cleared or re-run task sends nothing, and written once the SMTP server has
  taken the message;
- an email without a usable address (a submission refused for it) is not sent.
"""

from __future__ import annotations

import smtplib
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from typing import Any

from airflow.providers.common.compat.sdk import AirflowException
from airflow.providers.smtp.hooks.smtp import SmtpHook
from airflow.providers.smtp.operators.smtp import EmailOperator
from airflow.sdk.exceptions import AirflowFailException

from splatflow.pipeline import failures
from splatflow.pipeline.clients import link_signer, s3_client, sagemaker_client
from splatflow.pipeline.emails import composition
from splatflow.pipeline.emails.composition import OutgoingEmail
from splatflow.pipeline.emails.mime import InlinePicture, build_message
from splatflow.pipeline.records import RESULT_ENTRY, email_sent, mark_email_sent
from splatflow.pipeline.run_plan import PreparedRun
from splatflow.pipeline.settings import PipelineSettings


def fetch_pictures(s3: Any, pictures: Mapping[str, str]) -> list[InlinePicture]:
    """Each picture read from S3 (``Content-ID -> S3 URI``), under its object's file name, in order."""
    fetched = []
    for cid, uri in pictures.items():
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        fetched.append(InlinePicture(content_id=cid, file_name=key.rsplit("/", 1)[-1], data=data))
    return fetched


class MessageSmtpHook(SmtpHook):
    """The provider's SMTP hook, sending a message built whole.

    Used as a context manager, the hook connects and logs in as ``smtp_default`` says; its own
    ``send_email_smtp`` would build the message itself, in the one shape it knows.
    """

    def send_message(self, message: EmailMessage) -> None:
        client = self._smtp_client
        if not isinstance(client, smtplib.SMTP):
            raise AirflowException("the SMTP hook is not connected: send inside its `with` block")
        # As the provider's send_email_smtp does: retried up to the connection's retry_limit.
        for attempt in range(self.smtp_retry_limit + 1):
            try:
                client.send_message(message)
                return
            except smtplib.SMTPException:
                if attempt == self.smtp_retry_limit:
                    raise


class RunEmailOperator(EmailOperator):
    """Sends the email :meth:`compose` returns, once, with its pictures fetched from S3.

    Of the base operator's parameters, ``conn_id`` and ``from_email`` apply; the message's
    content and shape are the composed email's. ``plan`` is the run's plan as ``validate`` made it
    (templated: None when the input check refused the run).
    """

    template_fields: Sequence[str] = (*EmailOperator.template_fields, "plan")

    def __init__(self, *, plan: Any, **kwargs: Any) -> None:
        # The address is the run's own, known once the email is composed.
        super().__init__(to=[], **kwargs)
        self.plan = plan

    @property
    def run_plan(self) -> PreparedRun | None:
        return PreparedRun.from_dict(self.plan) if self.plan else None

    def compose(self, context: Any, settings: PipelineSettings, s3: Any) -> OutgoingEmail:
        raise NotImplementedError

    def known_sent(self, s3: Any) -> bool:
        """Whether this email was sent already, where that is known before composing it.

        Composing may write to S3 (the result email's signed index copies), which a cleared or
        retried task must not do once the email has gone.
        """
        return False

    def execute(self, context: Any) -> None:
        settings = PipelineSettings.from_environment()
        s3 = s3_client()
        if self.known_sent(s3):
            self.log.info("this run's email was sent already; not composing or sending it again")
            return
        email = self.compose(context, settings, s3)
        if not email.to:
            self.log.warning("the submission gave no usable email address; nothing is sent")
            return
        record = email.delivery_record
        if record is not None and email_sent(s3, record.layout, record.entry):
            self.log.info("this run's %s email was sent already; not sending it again", record.entry)
            return
        pictures = fetch_pictures(s3, email.pictures)
        smtp = MessageSmtpHook(smtp_conn_id=self.conn_id)
        with smtp:
            sender = self.from_email or smtp.from_email
            if not sender:
                raise AirflowException("no sender: give from_email, or set it in the connection's extra")
            message = build_message(
                sender=sender,
                to=email.to,
                subject=email.subject,
                text=email.text_content,
                html=email.html_content,
                pictures=pictures,
            )
            smtp.send_message(message)
        if record is not None:
            mark_email_sent(s3, record.layout, record.entry, email.to, settings.kms_key_id)
        self.log.info("email sent: %s", email.subject)


class ResultEmailOperator(RunEmailOperator):
    """The result email of a published run: its figures, download links presigned as it is sent,
    and its stills inline."""

    template_fields: Sequence[str] = (*RunEmailOperator.template_fields, "manifest")

    def __init__(self, *, manifest: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.manifest = manifest

    def known_sent(self, s3: Any) -> bool:
        plan = self.run_plan
        return plan is not None and email_sent(s3, plan.layout, RESULT_ENTRY)

    def compose(self, context: Any, settings: PipelineSettings, s3: Any) -> OutgoingEmail:
        plan = self.run_plan
        if plan is None:
            raise RuntimeError("a published run has no plan: the validate task's XCom is missing")
        return composition.compose_result_email(
            plan, self.manifest, settings, link_signer(settings.presign_conn_id), s3
        )


class FailureEmailOperator(RunEmailOperator):
    """The failure email: the first step of the run that failed and why, in plain words, after a
    failed manifest is recorded for batch reprocessing.

    It runs only after a failure, and fails itself once the email went out (or could not be
    addressed), so the run stays marked failed: a successful last task would turn it green.
    """

    def execute(self, context: Any) -> None:
        super().execute(context)
        raise AirflowFailException("a step of this run failed; the failure email names it and the reason")

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
        return composition.compose_failure_email(context["params"], ti.run_id, self.run_plan, failure, settings, s3)
