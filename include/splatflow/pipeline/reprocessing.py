"""Find the submissions the batch-reprocessing DAG should run again.

Every run leaves ``manifest.json`` in its prefix; a submission whose latest manifest failed, or
was made by an older pipeline version, is due. Reading manifests needs only S3 list/get.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any, Literal

from packaging.version import InvalidVersion, Version

from splatflow import __version__
from splatflow.pipeline.layout import MANIFEST_NAME
from splatflow.pipeline.manifest import MANIFEST_VERSION, as_datetime
from splatflow.pipeline.submission import Submission

log = logging.getLogger(__name__)

RUNS_PREFIX = "runs/"

ManifestState = Literal["current", "failed", "outdated", "unreadable"]


def manifest_is_outdated(manifest: Mapping[str, Any], current_version: str) -> bool:
    """Whether an older pipeline (or one whose version cannot be read) made this manifest."""
    try:
        return Version(str(manifest.get("pipeline_version"))) < Version(current_version)
    except InvalidVersion:
        return True


def manifest_status(manifest: object, current_version: str = __version__) -> ManifestState:
    """How the batch-reprocessing DAG sees a run's manifest.

    ``failed`` and ``outdated`` runs are submitted again; an ``unreadable`` manifest (not ours, a
    layout we no longer know, no readable submission) cannot be, and is left for a person.
    """
    if not isinstance(manifest, Mapping) or manifest.get("manifest_version") != MANIFEST_VERSION:
        return "unreadable"
    if manifest.get("status") not in ("succeeded", "failed") or not isinstance(manifest.get("submission"), Mapping):
        return "unreadable"
    if manifest["status"] == "failed":
        return "failed"
    return "outdated" if manifest_is_outdated(manifest, current_version) else "current"


def submissions_to_reprocess(
    manifests: Iterable[Mapping[str, Any]], current_version: str = __version__
) -> list[Submission]:
    """The submissions whose latest run failed or was made by an older pipeline, oldest first.

    Each submission counts once, judged by its latest manifest: a failure that a later run fixed
    is not redone.
    """
    latest: dict[Submission, tuple[datetime, ManifestState]] = {}
    for manifest in manifests:
        state = manifest_status(manifest, current_version)
        try:
            if state == "unreadable":
                raise ValueError("unknown manifest layout")
            submission = Submission.from_dict(manifest["submission"])
            created = as_datetime(manifest["created_at"])
        except (KeyError, TypeError, ValueError) as exc:  # SubmissionError is a ValueError
            log.warning("skipping the manifest of run %r: %s", manifest.get("run_id"), str(exc)[:200])
            continue
        if submission not in latest or created > latest[submission][0]:
            latest[submission] = (created, state)
    due = [(created, submission) for submission, (created, state) in latest.items() if state in ("failed", "outdated")]
    return [submission for _, submission in sorted(due, key=lambda item: item[0])]


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
