"""The SMTP sink receives what Airflow's SmtpHook sends through the generated connection."""

from __future__ import annotations

import email
import email.policy
import json

import pytest
from airflow.providers.smtp.hooks.smtp import SmtpHook

from splatflow.local.connections import SENDER
from splatflow.local.runtime import EmbeddedRuntime


def test_smtp_hook_delivers_to_the_sink_as_eml(runtime: EmbeddedRuntime, monkeypatch: pytest.MonkeyPatch) -> None:
    environment = runtime.environment()
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", environment["AIRFLOW_CONN_SMTP_DEFAULT"])
    before = set(runtime.smtp.messages())

    with SmtpHook(smtp_conn_id="smtp_default") as hook:
        hook.send_email_smtp(
            to="pilot@example.com",
            subject="Your splat is ready",
            html_content="<p>Gaussians: 123</p>",
            from_email=SENDER,
        )

    new = sorted(set(runtime.smtp.messages()) - before)
    assert len(new) == 1
    message = email.message_from_bytes(new[0].read_bytes(), policy=email.policy.default)
    assert message["To"] == "pilot@example.com"
    assert message["Subject"] == "Your splat is ready"
    body = message.get_body(("html",))
    assert body is not None and "Gaussians: 123" in body.get_content()


def test_env_file_holds_both_connections_for_source(runtime: EmbeddedRuntime) -> None:
    text = runtime.settings.env_file.read_text()
    assert "export AIRFLOW_CONN_AWS_DEFAULT=" in text and "export AIRFLOW_CONN_SMTP_DEFAULT=" in text
    aws = json.loads(runtime.environment()["AIRFLOW_CONN_AWS_DEFAULT"])
    assert runtime.runner is not None
    assert aws["extra"]["service_config"]["sagemaker"]["endpoint_url"] == runtime.runner.url
    assert aws["extra"]["service_config"]["s3"]["endpoint_url"] == runtime.aws_url
    assert aws["extra"]["service_config"]["logs"]["endpoint_url"] == runtime.aws_url
