"""The small JSON records a run keeps in S3, and the one that makes each email go out once.

``delivered.json`` in the run's prefix notes every email sent (``success``, or
``failure:<step>``) with its address and time. The result email is final: once its entry is
there the run's outputs are what the user has, so nothing may redo or rewrite them, and a
cleared or re-run task never emails the user twice.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from splatflow.encryption import encryption_args
from splatflow.pipeline.layout import RunLayout

RESULT_ENTRY = "success"
"""The delivery record's entry for the result email."""


def failure_entry(step: str) -> str:
    """The delivery record's entry for the failure email about ``step``."""
    return f"failure:{step}"


def read_json(s3: Any, bucket: str, key: str) -> dict[str, Any] | None:
    """A JSON object from S3, or None when it does not exist."""
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    value = json.loads(body)
    return value if isinstance(value, dict) else None


def put_json(s3: Any, bucket: str, key: str, payload: Mapping[str, Any], kms_key_id: str | None) -> None:
    s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=json.dumps(payload, indent=1).encode(),
        ContentType="application/json",
        **encryption_args(kms_key_id),
    )


def email_sent(s3: Any, layout: RunLayout, entry: str) -> bool:
    """True when the delivery record holds ``entry``: that email went out already."""
    record = read_json(s3, layout.bucket, layout.delivery_key)
    return record is not None and entry in record


def result_delivered(s3: Any, layout: RunLayout) -> bool:
    """True once the run's result email went out: from then on its outputs are what the user has."""
    return email_sent(s3, layout, RESULT_ENTRY)


def mark_email_sent(s3: Any, layout: RunLayout, entry: str, to: str, kms_key_id: str | None) -> None:
    record = read_json(s3, layout.bucket, layout.delivery_key) or {}
    record[entry] = {"to": to, "sent_at": datetime.now(UTC).isoformat()}
    put_json(s3, layout.bucket, layout.delivery_key, record, kms_key_id)
