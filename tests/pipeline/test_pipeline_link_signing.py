"""The emailed links live as long as the credentials that sign them, and the email says so.

The connections below are what a deployment configures: a worker's role (assumed through STS, here
moto's), an IAM user's keys meant for signing, and bare temporary keys of unknown expiry.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from botocore.credentials import Credentials, RefreshableCredentials
from manifest_examples import success_manifest
from moto import mock_aws

from splatflow.pipeline.clients import link_signer
from splatflow.pipeline.emails.composition import presigned_links
from splatflow.pipeline.emails.rendering import render_success_email
from splatflow.pipeline.link_signing import LinkSigner, link_lifetime
from splatflow.pipeline.s3_locations import S3Location
from splatflow.pipeline.settings import PipelineSettings

WEEK = 7 * 24 * 3600
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def succeeded_manifest() -> dict[str, Any]:
    """A published run's manifest with the three outputs its email links to."""
    files = {"sog": "scene.sog", "ply": "splat.ply", "viewer": "viewer.html"}
    outputs = {kind: S3Location("work", f"runs/x/compress/{name}") for kind, name in files.items()}
    return success_manifest(outputs=outputs)


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="work")
        yield


def _connection(monkeypatch: pytest.MonkeyPatch, conn_id: str, extra: dict[str, object], **fields: str) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({"conn_type": "aws", "extra": extra, **fields}))


def _expires_in(url: str) -> int:
    return int(parse_qs(urlsplit(url).query)["X-Amz-Expires"][0])


def test_links_signed_by_an_assumed_role_end_with_its_session_and_the_email_says_so(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    _connection(
        monkeypatch,
        "worker_role",
        {
            "region_name": "us-east-1",
            "role_arn": "arn:aws:iam::123456789012:role/airflow-worker",
            "assume_role_kwargs": {"DurationSeconds": 3600},
        },
    )
    signer = link_signer("worker_role")
    assert isinstance(signer.credentials, RefreshableCredentials), "the provider refreshes an assumed role"
    settings = PipelineSettings(presign_conn_id="worker_role")
    manifest = succeeded_manifest()

    links = presigned_links(manifest, settings, signer, signer.s3)

    assert 3500 <= _expires_in(links.sog) <= 3600, "the link asks for no more than the role session allows"
    assert _expires_in(links.ply) == _expires_in(links.sog)
    assert links.expires_at - datetime.now(UTC) <= timedelta(hours=1)
    email = render_success_email(manifest, links)
    assert "in 1 hour" in email.text and "7 days" not in email.text


def test_links_signed_by_an_iam_users_keys_live_the_week_asked_for(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    _connection(monkeypatch, "links", {"region_name": "us-east-1"}, login="AKIALINKSIGNER000000", password="secret")
    signer = link_signer("links")
    links = presigned_links(succeeded_manifest(), PipelineSettings(presign_conn_id="links"), signer, signer.s3, now=NOW)

    assert _expires_in(links.sog) == WEEK
    assert "AKIALINKSIGNER000000" in parse_qs(urlsplit(links.sog).query)["X-Amz-Credential"][0]
    assert links.expires_at == NOW + timedelta(seconds=WEEK) and links.expiry_certain
    assert "after that they stop working" in render_success_email(succeeded_manifest(), links, now=NOW).text


def test_temporary_keys_of_unknown_expiry_make_the_email_promise_no_more_than_an_upper_bound(aws: None) -> None:
    signer = LinkSigner(boto3.client("s3", region_name="us-east-1"), Credentials("ASIATEMP", "secret", "session-token"))
    links = presigned_links(succeeded_manifest(), PipelineSettings(), signer, signer.s3, now=NOW)

    assert not links.expiry_certain
    text = render_success_email(succeeded_manifest(), links, now=NOW).text
    assert "at the latest, and may stop sooner" in text and "after that they stop working" not in text


def test_credentials_already_expired_give_links_of_a_second_not_a_negative_lifetime() -> None:
    expired = RefreshableCredentials(
        "ASIAOLD", "secret", "token", NOW - timedelta(minutes=5), refresh_using=lambda: {}, method="test"
    )
    lifetime = link_lifetime(WEEK, expired, NOW)
    assert lifetime.expires_at == NOW and lifetime.certain
