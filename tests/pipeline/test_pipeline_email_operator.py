"""The run's email operator: the provider's EmailOperator sending through ``smtp_default`` (the local
SMTP sink), with its pictures fetched from S3 and each email sent once."""

from __future__ import annotations

import email
import email.policy
import json
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from splatflow.contract.failures import FailureCode
from splatflow.local.connections import smtp_connection
from splatflow.local.smtp_sink import SmtpSink
from splatflow.pipeline.delivery import DeliveryRecord, OutgoingEmail, compose_failure_email
from splatflow.pipeline.email_operator import RunEmailOperator
from splatflow.pipeline.failures import Failure
from splatflow.pipeline.layout import RunLayout
from splatflow.pipeline.records import RESULT_ENTRY, failure_entry, read_json
from splatflow.pipeline.settings import PipelineSettings

WORK = "work-mail"
LAYOUT = RunLayout(WORK, "runs/r1")
PNG = b"\x89PNG\r\n\x1a\n a stand-in picture"


@pytest.fixture
def sink(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpSink]:
    smtp = SmtpSink(tmp_path / "mail")
    smtp.start()
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", smtp_connection(smtp.host, smtp.port))
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps({"conn_type": "aws"}))
    try:
        yield smtp
    finally:
        smtp.stop()


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=WORK)
        yield client


def _messages(sink: SmtpSink) -> list[EmailMessage]:
    parsed = [email.message_from_bytes(path.read_bytes(), policy=email.policy.default) for path in sink.messages()]
    return [message for message in parsed if isinstance(message, EmailMessage)]


def _operator(outgoing: OutgoingEmail) -> RunEmailOperator:
    fields = outgoing.to_dict()
    return RunEmailOperator(task_id="send_email", **fields)


def test_the_result_email_goes_out_once_with_its_pictures_inline(sink: SmtpSink, s3: Any) -> None:
    for name in ("preview.png", "orbit_1.png"):
        s3.put_object(Bucket=WORK, Key=f"runs/r1/compress/{name}", Body=PNG)
    outgoing = OutgoingEmail(
        to="pilot@example.com",
        subject="Your 3D splat of coast.zip is ready",
        html_content='<img src="cid:preview.png"><img src="cid:orbit_1.png">',
        files=[f"s3://{WORK}/runs/r1/compress/preview.png", f"s3://{WORK}/runs/r1/compress/orbit_1.png"],
        delivery_record=DeliveryRecord.of(LAYOUT, RESULT_ENTRY),
    )

    _operator(outgoing).execute({})
    _operator(outgoing).execute({})  # a cleared or re-run task

    messages = _messages(sink)
    assert len(messages) == 1
    assert messages[0]["To"] == "pilot@example.com" and messages[0]["Subject"] == outgoing.subject
    attachments = {part.get_filename(): part for part in messages[0].iter_attachments()}
    assert {name: part["Content-ID"] for name, part in attachments.items()} == {
        "preview.png": "<preview.png>",
        "orbit_1.png": "<orbit_1.png>",
    }
    assert attachments["preview.png"].get_content() == PNG
    record = read_json(s3, WORK, LAYOUT.delivery_key)
    assert record is not None and record[RESULT_ENTRY]["to"] == "pilot@example.com"


def test_a_failure_before_the_plan_with_an_unusable_address_sends_nothing(sink: SmtpSink, s3: Any) -> None:
    failure = Failure("validate", FailureCode.INVALID_SUBMISSION, "email: 'a@b.c\\r\\nBcc: x' is not usable")
    outgoing = compose_failure_email(
        {"email": "a@b.c\r\nBcc: x@y.z"}, "run-1", None, failure, PipelineSettings(work_bucket=WORK), s3
    )
    assert outgoing.to is None and outgoing.delivery_record is None

    _operator(outgoing).execute({})

    assert _messages(sink) == []


def test_a_failure_email_is_recorded_per_step(sink: SmtpSink, s3: Any) -> None:
    outgoing = OutgoingEmail(
        to="pilot@example.com",
        subject="Your 3D splat for coast.zip could not be made",
        html_content="<p>photo alignment</p>",
        files=[],
        delivery_record=DeliveryRecord.of(LAYOUT, failure_entry("sfm")),
    )
    _operator(outgoing).execute({})
    _operator(outgoing).execute({})

    assert len(_messages(sink)) == 1
    record = read_json(s3, WORK, LAYOUT.delivery_key)
    assert record is not None and set(record) == {failure_entry("sfm")}, "a failure email does not finish the run"
