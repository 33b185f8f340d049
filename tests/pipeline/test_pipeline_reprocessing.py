"""Which submissions batch reprocessing runs again, judged by each one's runs so far: outdated, or
failed in a way another run may fix, a few times at most; under which run id; found how."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest
from manifest_examples import CREATED, success_manifest
from moto import mock_aws

import splatflow
from splatflow.contract.failures import FailureCode
from splatflow.pipeline.manifest import MANIFEST_VERSION
from splatflow.pipeline.reprocessing import DueRun, due_runs, manifest_is_outdated, manifest_status, runs_to_reprocess
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


def _run(
    submission: Submission, status: str, version: str, minutes: int, code: FailureCode | None = FailureCode.INTERNAL
) -> dict[str, Any]:
    manifest = success_manifest(submission=submission, created_at=CREATED + timedelta(minutes=minutes))
    failure = {"stage": "sfm", "code": code, "reason": "it failed"} if status == "failed" else None
    return {**manifest, "status": status, "pipeline_version": version, "failure": failure}


def _submissions(due: list[DueRun]) -> list[Submission]:
    return [run.submission for run in due]


SURVEY = Submission(email="a@example.com", input=S3Location("drone-uploads", "survey.zip"))


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
    assert _submissions(runs_to_reprocess(manifests, 3, current)) == [old, failed, broke_again]


def test_reprocessing_resubmits_through_the_params_it_was_given() -> None:
    spaced = Submission(email="a@example.com", input=S3Location("drone-uploads", "my photos/été.zip"))
    manifest = json.loads(json.dumps(_run(spaced, "failed", splatflow.__version__, 0)))
    [again] = runs_to_reprocess([manifest], 3)
    assert Submission.from_dict(again.trigger_kwargs()["conf"]) == spaced


def test_a_failure_the_same_input_repeats_waits_for_a_newer_pipeline() -> None:
    no_overlap = [_run(SURVEY, "failed", "0.2.0", 0, FailureCode.NO_OVERLAP)]
    assert runs_to_reprocess(no_overlap, 3, "0.2.0") == [], "the same photos do not overlap tomorrow either"
    assert _submissions(runs_to_reprocess(no_overlap, 3, "0.3.0")) == [SURVEY], "a newer pipeline may place them"
    interrupted = [_run(SURVEY, "failed", "0.2.0", 0, FailureCode.SERVICE_INTERRUPTED)]
    assert _submissions(runs_to_reprocess(interrupted, 3, "0.2.0")) == [SURVEY]
    uncoded = [_run(SURVEY, "failed", "0.2.0", 0, code=None)]
    assert _submissions(runs_to_reprocess(uncoded, 3, "0.2.0")) == [SURVEY], (
        "a failure of unknown kind may be transient"
    )


def test_a_submission_is_tried_at_most_max_attempts_times_in_a_row_by_one_pipeline() -> None:
    twice = [_run(SURVEY, "failed", "0.2.0", minutes) for minutes in (1, 2)]
    assert _submissions(runs_to_reprocess(twice, 3, "0.2.0")) == [SURVEY]
    thrice = [*twice, _run(SURVEY, "failed", "0.2.0", 3)]
    assert runs_to_reprocess(thrice, 3, "0.2.0") == []
    assert _submissions(runs_to_reprocess(thrice, 3, "0.3.0")) == [SURVEY], "an upgrade tries it once more"
    with_an_older_pipelines_failure = [_run(SURVEY, "failed", "0.1.0", 0), *twice]
    assert _submissions(runs_to_reprocess(with_an_older_pipelines_failure, 3, "0.2.0")) == [SURVEY]


def test_a_run_still_in_progress_is_derived_again_under_the_same_run_id() -> None:
    history = [_run(SURVEY, "failed", "0.2.0", 0)]
    [first] = runs_to_reprocess(history, 3, "0.2.0")
    [same] = runs_to_reprocess(json.loads(json.dumps(history)), 3, "0.2.0")
    assert same.run_id == first.run_id, "no manifest yet from the run started: the trigger skips the same id"
    [next_attempt] = runs_to_reprocess([*history, _run(SURVEY, "failed", "0.2.0", 5)], 3, "0.2.0")
    assert next_attempt.run_id != first.run_id
    other = Submission(email="b@example.com", input=S3Location("drone-uploads", "survey.zip"))
    [others] = runs_to_reprocess([_run(other, "failed", "0.2.0", 0)], 3, "0.2.0")
    assert others.run_id != first.run_id


@pytest.fixture
def work_bucket() -> Iterator[Any]:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="work")
        yield s3


def test_manifests_are_found_by_run_prefix_without_listing_every_object_of_the_runs(work_bucket: Any) -> None:
    s3 = work_bucket
    for index, name in enumerate(("a.zip", "b.zip")):
        submission = Submission(email="a@example.com", input=S3Location("drone-uploads", name))
        manifest = _run(submission, "failed", splatflow.__version__, index)
        s3.put_object(Bucket="work", Key=f"runs/r{index}/manifest.json", Body=json.dumps(manifest).encode())
    for step in range(1100):  # a long training run's checkpoints, and a run still in progress
        s3.put_object(Bucket="work", Key=f"runs/r0/checkpoints/ckpt-{step:05d}.pt", Body=b"")
    s3.put_object(Bucket="work", Key="runs/in-progress/sfm/sparse.zip", Body=b"")
    listings: list[dict[str, Any]] = []
    s3.meta.events.register("provide-client-params.s3.ListObjectsV2", lambda params, **_: listings.append(params))

    due = due_runs(s3, "work", limit=10, in_progress=0, max_attempts=3)

    assert [run.submission.source.name for run in due] == ["a.zip", "b.zip"]
    assert len(listings) == 1 and listings[0]["Delimiter"] == "/", "one page of run prefixes, not 1,100 keys"


def test_the_batch_limit_bounds_the_runs_in_progress(work_bucket: Any) -> None:
    for index in range(3):
        submission = Submission(email="a@example.com", input=S3Location("drone-uploads", f"{index}.zip"))
        manifest = _run(submission, "failed", splatflow.__version__, index)
        work_bucket.put_object(Bucket="work", Key=f"runs/r{index}/manifest.json", Body=json.dumps(manifest).encode())

    def started(in_progress: int) -> list[str]:
        due = due_runs(work_bucket, "work", limit=4, in_progress=in_progress, max_attempts=3)
        return [run.submission.source.name for run in due]

    assert started(0) == ["0.zip", "1.zip", "2.zip"]
    assert started(2) == ["0.zip", "1.zip"], "four in progress once these two start"
    assert started(4) == [] and started(9) == []
