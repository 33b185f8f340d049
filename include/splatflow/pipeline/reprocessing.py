"""Find the submissions the batch-reprocessing DAG should run again.

Every run leaves ``manifest.json`` in its prefix; a submission whose latest manifest failed, or
was made by an older pipeline version, is due. Reading manifests needs only S3 list/get.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

from splatflow.pipeline.layout import MANIFEST_NAME
from splatflow.pipeline.manifest import submissions_to_reprocess

log = logging.getLogger(__name__)

RUNS_PREFIX = "runs/"


def iter_manifests(s3: Any, bucket: str) -> Iterator[dict[str, Any]]:
    """Every readable ``runs/*/manifest.json`` in the work bucket (unreadable ones are logged)."""
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=RUNS_PREFIX)
    for page in pages:
        for item in page.get("Contents", []):
            key = item["Key"]
            if not key.endswith("/" + MANIFEST_NAME):
                continue
            try:
                manifest = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
            except json.JSONDecodeError:
                log.warning("skipping %s: not JSON", key)
                continue
            if isinstance(manifest, dict):
                yield manifest


def due_submissions(s3: Any, bucket: str, limit: int) -> list[dict[str, Any]]:
    """The ``conf`` of each submission to run again (oldest first, at most ``limit``)."""
    due = submissions_to_reprocess(iter_manifests(s3, bucket))
    if len(due) > limit:
        log.warning("%d submissions are due; this run takes the oldest %d", len(due), limit)
    return [submission.to_dict() for submission in due[:limit]]
