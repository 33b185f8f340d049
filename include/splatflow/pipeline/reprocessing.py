"""Find the submissions the batch-reprocessing DAG should run again, and the run each one gets.

Every run leaves ``manifest.json`` in its prefix. A submission is due when its latest run was made
by an older pipeline version (after an upgrade), or failed in a way another run may fix: a
transient code (``FailureCode.retry_may_help``), or any failure of an older pipeline version. A
``NO_OVERLAP`` ZIP fails the same way every day, so it is not rerun until the pipeline changes, and
no submission is tried more than ``reprocess_max_attempts`` times in a row by one pipeline version.

Each due submission's run id is derived from the submission and its number of runs so far. A run
still in progress has written no manifest yet, so the next batch derives the same id, and the
trigger skips it (``skip_when_already_exists``) instead of starting the submission twice.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from botocore.exceptions import ClientError
from packaging.version import InvalidVersion, Version

from splatflow import __version__
from splatflow.contract.failures import FailureCode
from splatflow.pipeline.layout import MANIFEST_NAME
from splatflow.pipeline.manifest import MANIFEST_VERSION, as_datetime
from splatflow.pipeline.submission import Submission

log = logging.getLogger(__name__)

RUNS_PREFIX = "runs/"
RUN_ID_PREFIX = "reprocess__"

ManifestState = Literal["current", "failed", "outdated", "unreadable"]


def manifest_is_outdated(manifest: Mapping[str, Any], current_version: str) -> bool:
    """Whether an older pipeline (or one whose version cannot be read) made this manifest."""
    try:
        return Version(str(manifest.get("pipeline_version"))) < Version(current_version)
    except InvalidVersion:
        return True


def manifest_status(manifest: object, current_version: str = __version__) -> ManifestState:
    """How the batch-reprocessing DAG sees a run's manifest.

    An ``unreadable`` manifest (not ours, a layout we no longer know, no readable submission)
    cannot be submitted again, and is left for a person.
    """
    if not isinstance(manifest, Mapping) or manifest.get("manifest_version") != MANIFEST_VERSION:
        return "unreadable"
    if manifest.get("status") not in ("succeeded", "failed") or not isinstance(manifest.get("submission"), Mapping):
        return "unreadable"
    if manifest["status"] == "failed":
        return "failed"
    return "outdated" if manifest_is_outdated(manifest, current_version) else "current"


def failure_code(manifest: Mapping[str, Any]) -> FailureCode | None:
    """The code a failed manifest recorded; None when it has none (made before codes were kept)."""
    failure = manifest.get("failure")
    try:
        return FailureCode(str(failure.get("code"))) if isinstance(failure, Mapping) else None
    except ValueError:
        return None


@dataclass(frozen=True)
class RecordedRun:
    """One readable manifest, as reprocessing needs it."""

    created: datetime
    state: ManifestState
    outdated: bool
    code: FailureCode | None


@dataclass(frozen=True)
class DueRun:
    """A submission to run again, under the run id this attempt gets."""

    submission: Submission
    run_id: str
    since: datetime
    """When the submission's latest run finished: the oldest wait goes first."""

    def trigger_kwargs(self) -> dict[str, Any]:
        """The arguments of the mapped trigger task (``TriggerDagRunOperator``) for this run."""
        return {"conf": self.submission.to_dict(), "trigger_run_id": self.run_id}


def reprocess_run_id(submission: Submission, runs_so_far: int) -> str:
    """The same id for the same submission and attempt, whichever batch derives it."""
    digest = hashlib.sha256(json.dumps(submission.to_dict(), sort_keys=True).encode("utf-8")).hexdigest()[:16]
    return f"{RUN_ID_PREFIX}{digest}__{runs_so_far + 1}"


def is_due(history: Sequence[RecordedRun], max_attempts: int) -> bool:
    """Whether a submission's runs, oldest first, call for another run."""
    latest = history[-1]
    if latest.state != "failed":
        return latest.state == "outdated"
    if latest.outdated:
        return True
    if latest.code is not None and not latest.code.retry_may_help:
        return False
    failed_in_a_row = 0
    for run in reversed(history):
        if run.state != "failed" or run.outdated:
            break
        failed_in_a_row += 1
    return failed_in_a_row < max_attempts


def _readable_runs(manifests: Iterable[Mapping[str, Any]], current_version: str) -> dict[Submission, list[RecordedRun]]:
    histories: dict[Submission, list[RecordedRun]] = defaultdict(list)
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
        outdated = manifest_is_outdated(manifest, current_version)
        histories[submission].append(RecordedRun(created, state, outdated, failure_code(manifest)))
    return histories


def runs_to_reprocess(
    manifests: Iterable[Mapping[str, Any]], max_attempts: int, current_version: str = __version__
) -> list[DueRun]:
    """The submissions due, each judged by its runs so far, the longest waiting first."""
    due = []
    for submission, history in _readable_runs(manifests, current_version).items():
        history.sort(key=lambda run: run.created)
        if is_due(history, max_attempts):
            due.append(DueRun(submission, reprocess_run_id(submission, len(history)), history[-1].created))
        elif history[-1].state == "failed":
            log.info("not rerun (%s): %s", history[-1].code or "no code", submission.source.name)
    return sorted(due, key=lambda run: run.since)


def iter_manifests(s3: Any, bucket: str) -> Iterator[dict[str, Any]]:
    """The manifest of every run prefix in the work bucket.

    Listing with a ``/`` delimiter returns each run's prefix once, as ``CommonPrefixes`` (S3 API
    reference, ListObjectsV2), instead of every photo, checkpoint and output a run holds; a
    prefix without a manifest is a run in progress or refused before it published one.
    """
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=RUNS_PREFIX, Delimiter="/")
    for page in pages:
        for run in page.get("CommonPrefixes", []):
            key = run["Prefix"] + MANIFEST_NAME
            try:
                body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                    continue
                raise
            try:
                manifest = json.loads(body)
            except json.JSONDecodeError:
                log.warning("skipping %s: not JSON", key)
                continue
            if isinstance(manifest, dict):
                yield manifest


def due_runs(s3: Any, bucket: str, *, limit: int, in_progress: int, max_attempts: int) -> list[DueRun]:
    """The runs to start now: at most ``limit`` pipeline runs in progress once they are started."""
    due = runs_to_reprocess(iter_manifests(s3, bucket), max_attempts)
    slots = max(0, limit - in_progress)
    if len(due) > slots:
        log.warning(
            "%d submissions are due and %d pipeline runs are in progress; this batch starts the oldest %d",
            len(due),
            in_progress,
            slots,
        )
    return due[:slots]
