"""The provider's ``EmailOperator``, with the two things a run's email needs besides sending.

Its pictures live in S3: ``files`` are S3 URIs, each downloaded and attached under its file name
(the SMTP hook gives an attachment its file name as Content-ID, which the HTML's ``cid:``
references use). And it goes out once: ``delivery_record`` names the run's ``delivered.json``
and this email's entry in it (``records``); a cleared or re-run task that finds the entry sends
nothing, and the entry is written once the SMTP server has taken the message.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.smtp.operators.smtp import EmailOperator

from splatflow.pipeline.delivery import DeliveryRecord
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


class RunEmailOperator(EmailOperator):
    """Sends one email of a run, once, with its pictures fetched from S3."""

    template_fields: Sequence[str] = (*EmailOperator.template_fields, "delivery_record")

    def __init__(
        self, *, delivery_record: dict[str, str] | None, aws_conn_id: str = "aws_default", **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.delivery_record = delivery_record
        self.aws_conn_id = aws_conn_id

    def execute(self, context: Any) -> None:
        if not self.to:
            self.log.warning("the submission gave no usable email address; nothing is sent")
            return
        record = DeliveryRecord(**self.delivery_record) if self.delivery_record else None
        s3 = S3Hook(aws_conn_id=self.aws_conn_id).get_conn()
        if record is not None and email_sent(s3, record.layout, record.entry):
            self.log.info("this run's %s email was sent already; not sending it again", record.entry)
            return
        with tempfile.TemporaryDirectory() as folder:
            self.files = download_attachments(s3, self.files, Path(folder))
            super().execute(context)
        if record is not None:
            kms_key_id = PipelineSettings.from_environment().kms_key_id
            mark_email_sent(s3, record.layout, record.entry, str(self.to), kms_key_id)
        self.log.info("email sent: %s", self.subject)
