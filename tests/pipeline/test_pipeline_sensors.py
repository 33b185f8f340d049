"""``wait_for_input`` waits while an upload of the file is in progress, and not an hour for a file that
nobody is sending (moto's S3 keeps multipart uploads in progress as S3 does)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from airflow.sdk.exceptions import AirflowFailException
from moto import mock_aws

from splatflow.contract.failures import FailureCode, parse_failure_reason
from splatflow.pipeline.failures import REASON_XCOM_KEY
from splatflow.pipeline.sensors import UploadSensor

BUCKET = "uploads"
KEY = "survey/photos.zip"


class _TaskInstance:
    """The two calls the sensor makes on its task instance: when its first poke was, and an XCom."""

    def __init__(self, waiting_since: datetime | None) -> None:
        self.waiting_since = waiting_since
        self.xcoms: dict[str, Any] = {}

    def get_first_reschedule_date(self, context: Any) -> datetime | None:
        return self.waiting_since

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcoms[key] = value


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv(
        "AIRFLOW_CONN_AWS_DEFAULT", json.dumps({"conn_type": "aws", "extra": {"region_name": "us-east-1"}})
    )
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def _sensor() -> UploadSensor:
    return UploadSensor(task_id="wait_for_input", bucket_key=f"s3://{BUCKET}/{KEY}", timeout=3600, grace_seconds=60)


def _poke(waited_seconds: float) -> bool:
    """One poke, ``waited_seconds`` after the first (0: the first poke itself)."""
    since = datetime.now(UTC) - timedelta(seconds=waited_seconds) if waited_seconds else None
    return _sensor().poke({"ti": _TaskInstance(since)})


def test_a_file_that_is_there_ends_the_wait(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"zip")
    assert _poke(0) is True


def test_a_file_nobody_is_sending_is_waited_for_a_grace_then_fails_naming_it(s3: Any) -> None:
    assert _poke(0) is False and _poke(30) is False, "within the grace it waits"

    ti = _TaskInstance(datetime.now(UTC) - timedelta(seconds=61))
    with pytest.raises(AirflowFailException):
        _sensor().poke({"ti": ti})
    reported = parse_failure_reason(ti.xcoms[REASON_XCOM_KEY])
    assert reported is not None and reported.code is FailureCode.INPUT_MISSING
    assert f"s3://{BUCKET}/{KEY} is not there and no upload of it is in progress" in reported.message


def test_an_upload_in_progress_is_waited_for_past_the_grace_until_it_completes(s3: Any) -> None:
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key=KEY)
    s3.create_multipart_upload(Bucket=BUCKET, Key=KEY + ".other")
    part = s3.upload_part(Bucket=BUCKET, Key=KEY, UploadId=upload["UploadId"], PartNumber=1, Body=b"zip")

    assert _poke(600) is False, "ten minutes in, the upload is still arriving: keep waiting"

    s3.complete_multipart_upload(
        Bucket=BUCKET,
        Key=KEY,
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]},
    )
    assert _poke(700) is True


def test_an_upload_of_another_key_with_the_same_prefix_is_not_waited_for(s3: Any) -> None:
    s3.create_multipart_upload(Bucket=BUCKET, Key=KEY + ".bak")
    with pytest.raises(AirflowFailException):
        _poke(61)
