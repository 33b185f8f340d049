"""The run's email operators: the provider's EmailOperator sending through ``smtp_default`` (the local
SMTP sink), composing when they send, with their pictures fetched from S3 and each email sent once."""

from __future__ import annotations

import json
import re
import smtplib
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import boto3
import pytest
from airflow.sdk.exceptions import AirflowFailException
from mail_structure import inline_pictures, read_eml
from moto import mock_aws

from splatflow.contract.failures import FailureCode
from splatflow.local.connections import SENDER, smtp_connection
from splatflow.local.smtp_sink import SmtpSink
from splatflow.pipeline import ids
from splatflow.pipeline.emails.composition import DeliveryRecord, OutgoingEmail, compose_failure_email
from splatflow.pipeline.emails.mime import content_id
from splatflow.pipeline.emails.operators import (
    FailureEmailOperator,
    MessageSmtpHook,
    ResultEmailOperator,
    RunEmailOperator,
)
from splatflow.pipeline.failures import Failure
from splatflow.pipeline.layout import RunLayout
from splatflow.pipeline.manifest import QualityMetrics, StageRecord, build_manifest
from splatflow.pipeline.records import RESULT_ENTRY, failure_entry, read_json
from splatflow.pipeline.run_plan import PreparedRun
from splatflow.pipeline.s3_locations import S3Location
from splatflow.pipeline.settings import PipelineSettings
from splatflow.pipeline.submission import Submission

WORK = "work-mail"
LAYOUT = RunLayout(WORK, "runs/r1")
PNG = b"\x89PNG\r\n\x1a\n a stand-in picture"
SUBMISSION = Submission(email="pilot@example.com", steps="compress_only", model=S3Location(WORK, "m/splat.ply"))


@pytest.fixture
def sink(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpSink]:
    smtp = SmtpSink(tmp_path / "mail")
    smtp.start()
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", smtp_connection(smtp.host, smtp.port))
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps({"conn_type": "aws"}))
    monkeypatch.setenv("SPLATFLOW_WORK_BUCKET", WORK)
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
    return [read_eml(path) for path in sink.messages()]


class _Composed(RunEmailOperator):
    """Sends the email it was given, as the real operators send what they compose."""

    def __init__(self, *, outgoing: OutgoingEmail, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.outgoing = outgoing

    def compose(self, context: Any, settings: PipelineSettings, s3: Any) -> OutgoingEmail:
        return self.outgoing


def test_an_email_goes_out_once_with_its_pictures_inline(sink: SmtpSink, s3: Any) -> None:
    pictures = {"preview.png": PNG, "orbit_1.png": PNG + b" from around the scene"}
    for name, data in pictures.items():
        s3.put_object(Bucket=WORK, Key=f"runs/r1/compress/{name}", Body=data)
    cids = {name: content_id(name) for name in pictures}
    outgoing = OutgoingEmail(
        to="pilot@example.com",
        subject="Your 3D splat of coast.zip is ready",
        html_content=f'<img src="cid:{cids["preview.png"]}"><img src="cid:{cids["orbit_1.png"]}">',
        text_content="Your 3D splat is ready.",
        pictures={cids[name]: f"s3://{WORK}/runs/r1/compress/{name}" for name in pictures},
        delivery_record=DeliveryRecord.of(LAYOUT, RESULT_ENTRY),
    )

    _Composed(task_id="send_email", plan=None, outgoing=outgoing).execute({})
    _Composed(task_id="send_email", plan=None, outgoing=outgoing).execute({})  # a cleared or re-run task

    messages = _messages(sink)
    assert len(messages) == 1
    message = messages[0]
    assert message["To"] == "pilot@example.com" and message["Subject"] == outgoing.subject
    assert message["From"] == SENDER, "the sender comes from the smtp_default connection"
    assert message["Message-ID"].endswith("@localhost>"), "the Message-ID is made under the sender's domain"
    shown = inline_pictures(message)
    assert {name: part.get_content() for name, part in shown.items()} == pictures
    assert {name: part["Content-ID"] for name, part in shown.items()} == {name: f"<{cids[name]}>" for name in pictures}
    text = message.get_body(("plain",))
    assert text is not None and text.get_content().strip() == "Your 3D splat is ready."
    record = read_json(s3, WORK, LAYOUT.delivery_key)
    assert record is not None and record[RESULT_ENTRY]["to"] == "pilot@example.com"


def test_a_failure_email_is_recorded_for_its_step_and_does_not_finish_the_run(sink: SmtpSink, s3: Any) -> None:
    outgoing = OutgoingEmail(
        to="pilot@example.com",
        subject="Your 3D splat for coast.zip could not be made",
        html_content="<p>photo alignment</p>",
        text_content="photo alignment",
        pictures={},
        delivery_record=DeliveryRecord.of(LAYOUT, failure_entry("sfm")),
    )
    _Composed(task_id="send_email", plan=None, outgoing=outgoing).execute({})
    _Composed(task_id="send_email", plan=None, outgoing=outgoing).execute({})

    (message,) = _messages(sink)
    assert inline_pictures(message) == {}
    record = read_json(s3, WORK, LAYOUT.delivery_key)
    assert record is not None and set(record) == {failure_entry("sfm")}


def test_a_run_refused_for_its_unusable_address_gets_no_email(sink: SmtpSink, s3: Any) -> None:
    failure = Failure(ids.VALIDATE, FailureCode.INVALID_SUBMISSION, "email is not a usable email address")
    params = {"email": "a@b.c\r\nBcc: x@y.z"}
    outgoing = compose_failure_email(params, "run-1", None, failure, PipelineSettings(work_bucket=WORK), s3)
    assert outgoing.to is None and outgoing.delivery_record is None

    _Composed(task_id="send_email", plan=None, outgoing=outgoing).execute({})

    assert _messages(sink) == []


def _send_result_email(s3: Any, extra_outputs: dict[str, S3Location] | None = None) -> dict[str, Any]:
    """Publishes a compress-only run's outputs and sends its result email; returns its manifest."""
    outputs = {name: S3Location(WORK, f"runs/r1/compress/{name}") for name in ("scene.sog", "splat.ply")}
    for location in outputs.values():
        s3.put_object(Bucket=WORK, Key=location.key, Body=b"bytes")
    manifest = build_manifest(
        run_id="r1",
        submission=SUBMISSION,
        stages=[StageRecord("compress", "compress-1", "ml.c6i.4xlarge", 1, 120, 120)],
        quality=QualityMetrics(gaussians=500),
        outputs={
            "sog": outputs["scene.sog"],
            "ply": outputs["splat.ply"],
            "viewer": S3Location(WORK, "runs/r1/compress/viewer.html"),
            **(extra_outputs or {}),
        },
    )
    plan = PreparedRun("r1", SUBMISSION, LAYOUT)
    ResultEmailOperator(task_id=ids.DELIVER, plan=plan.to_dict(), manifest=manifest).execute({})
    return manifest


def test_the_result_email_presigns_its_links_only_as_it_is_sent(sink: SmtpSink, s3: Any) -> None:
    manifest = _send_result_email(s3)

    (message,) = _messages(sink)
    assert message["To"] == "pilot@example.com" and message["Subject"] == "Your 3D splat of splat.ply is ready"
    assert inline_pictures(message) == {}, "a manifest without stills shows none"
    for kind in ("html", "plain"):
        body = message.get_body((kind,))
        assert body is not None and "X-Amz-Signature=" in body.get_content()
    assert "X-Amz" not in json.dumps(manifest), "the operator's input holds no presigned link"


def test_a_result_email_sent_already_is_not_composed_again_so_nothing_is_rewritten(sink: SmtpSink, s3: Any) -> None:
    """Composing writes the signed index copies; a cleared or retried deliver task after the email
    went out must leave every object as it was (and send nothing)."""
    tileset = {
        "asset": {"version": "1.1"},
        "geometricError": 1,
        "root": {"geometricError": 0, "content": {"uri": "tile.glb"}},
    }
    s3.put_object(Bucket=WORK, Key="runs/r1/compress/tileset.json", Body=json.dumps(tileset).encode())
    s3.put_object(Bucket=WORK, Key="runs/r1/compress/tile.glb", Body=b"glb")
    extra = {"tileset": S3Location(WORK, "runs/r1/compress/tileset.json")}
    _send_result_email(s3, extra)
    signed = "runs/r1/compress/signed/tileset.json"
    s3.head_object(Bucket=WORK, Key=signed)  # the first send wrote the signed tileset
    s3.delete_object(Bucket=WORK, Key=signed)

    _send_result_email(s3, extra)

    assert "Contents" not in s3.list_objects_v2(Bucket=WORK, Prefix=signed), "the second task wrote it again"
    assert len(_messages(sink)) == 1


def test_the_links_are_signed_by_the_connection_meant_for_it(
    sink: SmtpSink, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPLATFLOW_PRESIGN_CONN_ID", "result_links")
    keys = {"conn_type": "aws", "login": "AKIARESULTLINKS00000", "password": "secret"}
    monkeypatch.setenv("AIRFLOW_CONN_RESULT_LINKS", json.dumps(keys))

    _send_result_email(s3)

    (message,) = _messages(sink)
    body = message.get_body(("plain",))
    assert body is not None and "X-Amz-Credential=AKIARESULTLINKS00000" in body.get_content()


def test_the_links_are_signed_for_the_host_the_signing_connection_names(
    sink: SmtpSink, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Compose's tasks reach S3 as ``splatflow-local``; the reader's browser, on the host, as localhost."""
    reader_s3 = {"conn_type": "aws", "extra": {"endpoint_url": "http://localhost:4566"}}
    monkeypatch.setenv("AIRFLOW_CONN_AWS_LINKS", json.dumps(reader_s3))
    monkeypatch.setenv("SPLATFLOW_PRESIGN_CONN_ID", "aws_links")

    _send_result_email(s3)

    (message,) = _messages(sink)
    body = message.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    links = re.findall(r"https?://[^\s>]+X-Amz-Signature=[^\s>]+", text)
    assert links, text
    assert all(link.startswith("http://localhost:4566/") for link in links)


class _ComposedFailure(FailureEmailOperator):
    """The failure email operator, sending the email it was given."""

    def __init__(self, *, outgoing: OutgoingEmail, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.outgoing = outgoing

    def compose(self, context: Any, settings: PipelineSettings, s3: Any) -> OutgoingEmail:
        return self.outgoing


def test_the_failure_email_goes_out_and_then_fails_its_task_so_the_run_stays_failed(sink: SmtpSink, s3: Any) -> None:
    outgoing = OutgoingEmail(
        to="pilot@example.com",
        subject="Your photos could not be processed",
        html_content="<p>why</p>",
        text_content="why",
        pictures={},
        delivery_record=DeliveryRecord.of(LAYOUT, failure_entry("sfm")),
    )

    with pytest.raises(AirflowFailException, match="a step of this run failed"):
        _ComposedFailure(task_id=ids.ON_FAILURE, plan=None, outgoing=outgoing).execute({})

    assert [m["Subject"] for m in _messages(sink)] == ["Your photos could not be processed"]


class _FlakyClient(smtplib.SMTP):
    """An SMTP client (never connected) whose first ``failures`` sends fail as a dropped server would."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.sent: list[EmailMessage] = []

    def send_message(self, msg: Any, *args: Any, **kwargs: Any) -> dict[str, tuple[int, bytes]]:
        if self.failures:
            self.failures -= 1
            raise smtplib.SMTPServerDisconnected("connection unexpectedly closed")
        self.sent.append(msg)
        return {}


def _hook_with(client: _FlakyClient, retry_limit: int) -> MessageSmtpHook:
    from airflow.models.connection import Connection

    hook = MessageSmtpHook()
    hook.conn = Connection(conn_type="smtp", extra=json.dumps({"retry_limit": retry_limit}))
    hook._smtp_client = client
    return hook


def test_a_send_is_retried_up_to_the_connections_retry_limit_as_the_provider_does() -> None:
    message = EmailMessage()
    recovering, failing = _FlakyClient(failures=2), _FlakyClient(failures=3)

    _hook_with(recovering, retry_limit=2).send_message(message)
    with pytest.raises(smtplib.SMTPServerDisconnected):
        _hook_with(failing, retry_limit=2).send_message(message)

    assert recovering.sent == [message]
    assert failing.sent == [] and failing.failures == 0, "three tries, then the error"
