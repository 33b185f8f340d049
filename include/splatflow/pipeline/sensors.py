"""``wait_for_input``: waits for the submitted file only while an upload of it is really arriving.

A large ZIP is sent to S3 as a multipart upload, and S3 lists an upload in progress until it is
completed or aborted (S3 API reference, ListMultipartUploads); the object appears only when it
completes. So a key with an upload in progress is worth waiting for (up to
``SPLATFLOW_INPUT_WAIT_SECONDS``); a key that is not there with no upload of it (a mistyped key,
a file never sent) fails after ``SPLATFLOW_INPUT_GRACE_SECONDS`` with the failure email, instead
of an hour of silence. Each poke says in the task log what it waits for and until when.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.amazon.aws.sensors.s3 import S3KeySensor
from airflow.sdk.exceptions import AirflowFailException

from splatflow.contract.failures import FailureCode, format_failure_reason
from splatflow.pipeline import ids
from splatflow.pipeline.failures import REASON_XCOM_KEY


class UploadSensor(S3KeySensor):
    """An S3 key sensor that gives up early when nothing is on its way."""

    def __init__(self, *, grace_seconds: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.grace_seconds = grace_seconds

    def poke(self, context: Any) -> bool:
        if super().poke(context):
            return True
        bucket, key = S3Hook.parse_s3_url(str(self.bucket_key))
        uri = f"s3://{bucket}/{key}"
        started = context["ti"].get_first_reschedule_date(context) or datetime.now(UTC)
        waited = (datetime.now(UTC) - started).total_seconds()
        arriving = self._upload_in_progress(bucket, key)
        if arriving is not None:
            until = started + timedelta(seconds=self.timeout)
            self.log.info("waiting for %s: an upload started at %s is still arriving (until %s)", uri, arriving, until)
            return False
        if waited < self.grace_seconds:
            until = started + timedelta(seconds=self.grace_seconds)
            self.log.info("waiting for %s: it is not there and no upload of it is in progress (until %s)", uri, until)
            return False
        reason = format_failure_reason(
            ids.STEP_OF_TASK[ids.WAIT_FOR_INPUT],
            FailureCode.INPUT_MISSING,
            f"{uri} is not there and no upload of it is in progress: check the file's name and that it was sent",
        )
        context["ti"].xcom_push(key=REASON_XCOM_KEY, value=reason)
        raise AirflowFailException(reason)

    def _upload_in_progress(self, bucket: str, key: str) -> datetime | None:
        """When the newest upload in progress of exactly this key started; None when there is none."""
        listing = self.hook.get_conn().list_multipart_uploads(Bucket=bucket, Prefix=key)
        started = [upload["Initiated"] for upload in listing.get("Uploads", []) if upload["Key"] == key]
        return max(started) if started else None
