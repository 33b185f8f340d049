"""Which submissions batch reprocessing runs again: by the latest manifest of each, failed or made by an
older pipeline, resubmitted through the params it was given."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from manifest_examples import CREATED, success_manifest

import splatflow
from splatflow.pipeline.manifest import MANIFEST_VERSION
from splatflow.pipeline.reprocessing import manifest_is_outdated, manifest_status, submissions_to_reprocess
from splatflow.pipeline.s3_locations import S3Location
from splatflow.pipeline.submission import Submission


@pytest.mark.parametrize(
    ("made_by", "current", "outdated"),
    [
        ("0.1.0", "0.1.0", False),
        ("0.1.0", "0.2.0", True),
        ("0.10.0", "0.9.0", False),  # compared as versions, not as text
        ("1.0.0rc1", "1.0.0", True),
        ("not-a-version", "0.1.0", True),
        (None, "0.1.0", True),
    ],
)
def test_outdated_means_made_by_an_older_pipeline(made_by: str | None, current: str, outdated: bool) -> None:
    assert manifest_is_outdated({"pipeline_version": made_by}, current) is outdated


def test_manifest_status_for_the_reprocessing_dag() -> None:
    manifest = success_manifest()
    assert manifest_status(manifest, splatflow.__version__) == "current"
    assert manifest_status({**manifest, "pipeline_version": "0.0.1"}, splatflow.__version__) == "outdated"
    assert manifest_status({**manifest, "status": "failed"}, splatflow.__version__) == "failed"


@pytest.mark.parametrize(
    "manifest",
    [
        None,
        "manifest",
        [],
        {},
        {"manifest_version": MANIFEST_VERSION + 1, "status": "succeeded", "submission": {}},
        {"manifest_version": MANIFEST_VERSION, "status": "running", "submission": {}},
        {"manifest_version": MANIFEST_VERSION, "status": "failed", "submission": "s3://x/y.zip"},
    ],
)
def test_a_manifest_we_cannot_read_is_unreadable(manifest: object) -> None:
    assert manifest_status(manifest, "0.1.0") == "unreadable"


def _run(submission: Submission, status: str, version: str, minutes: int) -> dict[str, Any]:
    manifest = success_manifest(submission=submission, created_at=CREATED + timedelta(minutes=minutes))
    return {**manifest, "status": status, "pipeline_version": version}


def test_reprocessing_picks_exactly_the_failed_and_outdated_submissions_by_their_latest_run() -> None:
    current = "0.2.0"
    ok = Submission(email="a@example.com", input=S3Location("drone-uploads", "ok.zip"))
    failed = Submission(email="b@example.com", input=S3Location("drone-uploads", "failed.zip"))
    fixed = Submission(email="c@example.com", input=S3Location("drone-uploads", "fixed.zip"))
    old = Submission(email="d@example.com", steps="compress_only", model=S3Location("drone-uploads", "m.ply"))
    broke_again = Submission(email="e@example.com", input=S3Location("drone-uploads", "again.zip"))
    manifests = [
        _run(ok, "succeeded", current, 1),
        _run(failed, "failed", current, 2),
        _run(fixed, "failed", "0.1.0", 3),
        _run(fixed, "succeeded", current, 4),
        _run(old, "succeeded", "0.1.0", 0),
        _run(broke_again, "succeeded", "0.1.0", 5),
        _run(broke_again, "failed", current, 6),
        {"manifest_version": 99},
        {**_run(ok, "failed", current, 7), "submission": {"s3_url": "s3://drone-uploads/x.zip", "email": "a\r\nb"}},
    ]
    assert submissions_to_reprocess(manifests, current) == [old, failed, broke_again]


def test_reprocessing_resubmits_through_the_params_it_was_given() -> None:
    spaced = Submission(email="a@example.com", input=S3Location("drone-uploads", "my photos/été.zip"))
    manifest = json.loads(json.dumps({**success_manifest(submission=spaced), "status": "failed"}))
    [again] = submissions_to_reprocess([manifest])
    assert again == spaced
