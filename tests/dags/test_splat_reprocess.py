"""The batch DAG re-runs exactly the submissions whose latest run is outdated or failed in a way another
run may fix, each under a run id of its own attempt."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pipeline_support import REPO_ROOT, UPLOADS, WORK, pipeline_runtime, s3_of

from splatflow import __version__
from splatflow.contract.failures import FailureCode
from splatflow.local.runtime import EmbeddedRuntime
from splatflow.pipeline.manifest import FailureRecord, QualityMetrics, build_manifest
from splatflow.pipeline.reprocessing import due_runs
from splatflow.pipeline.submission import parse_submission

__all__ = ["pipeline_runtime"]

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def _manifest(
    run: str, zip_name: str, *, failed: FailureCode | None, age_days: int, version: str = __version__
) -> dict[str, Any]:
    submission = parse_submission({"s3_url": f"s3://{UPLOADS}/{zip_name}", "email": "ops@example.com"}, {UPLOADS})
    manifest = build_manifest(
        run_id=run,
        submission=submission,
        stages=[],
        quality=QualityMetrics(),
        outputs={},
        failure=FailureRecord("sfm", failed, "it failed") if failed else None,
        created_at=NOW - timedelta(days=age_days),
    )
    manifest["pipeline_version"] = version
    return manifest


@pytest.fixture(scope="module")
def seeded_manifests(pipeline_runtime: EmbeddedRuntime) -> EmbeddedRuntime:
    s3 = s3_of(pipeline_runtime)
    # moto keeps one S3 per process: start from a work bucket without other tests' runs.
    for item in s3.list_objects_v2(Bucket=WORK).get("Contents", []):
        s3.delete_object(Bucket=WORK, Key=item["Key"])
    manifests = [
        _manifest("r1", "failed.zip", failed=FailureCode.SERVICE_INTERRUPTED, age_days=5),
        _manifest("r2", "old.zip", failed=None, age_days=4, version="0.0.1"),
        _manifest("r3", "fine.zip", failed=None, age_days=3),
        _manifest("r4", "fixed.zip", failed=FailureCode.INTERNAL, age_days=9),
        _manifest("r5", "fixed.zip", failed=None, age_days=2),
        _manifest("r6", "no-overlap.zip", failed=FailureCode.NO_OVERLAP, age_days=6),
    ]
    for manifest in manifests:
        key = f"runs/reprocess-{manifest['run_id']}/manifest.json"
        s3.put_object(Bucket=WORK, Key=key, Body=json.dumps(manifest).encode())
    s3.put_object(Bucket=WORK, Key="runs/reprocess-junk/manifest.json", Body=b"not json")
    return pipeline_runtime


def test_due_submissions_are_failed_and_outdated_oldest_first(seeded_manifests: EmbeddedRuntime) -> None:
    due = due_runs(s3_of(seeded_manifests), WORK, limit=10, in_progress=0, max_attempts=3)
    assert [run.trigger_kwargs()["conf"]["s3_url"] for run in due] == [
        f"s3://{UPLOADS}/failed.zip",
        f"s3://{UPLOADS}/old.zip",
    ]
    assert due_runs(s3_of(seeded_manifests), WORK, limit=1, in_progress=0, max_attempts=3) == due[:1]


@pytest.mark.slow
def test_the_batch_dag_triggers_one_pipeline_run_per_due_submission(
    seeded_manifests: EmbeddedRuntime, airflow_db: Path
) -> None:
    from airflow.models.dagbag import DagBag
    from airflow.models.dagrun import DagRun

    bag = DagBag(dag_folder=str(REPO_ROOT / "dags" / "splat_reprocess.py"))
    assert bag.import_errors == {}
    before = {run.run_id for run in DagRun.find(dag_id="splat_pipeline")}

    dry = bag.get_dag("splat_reprocess").test(run_conf={"dry_run": True})
    assert dry.state == "success"
    assert {run.run_id for run in DagRun.find(dag_id="splat_pipeline")} == before

    batch = bag.get_dag("splat_reprocess").test(run_conf={"dry_run": False})
    assert batch.state == "success"
    triggered = [run for run in DagRun.find(dag_id="splat_pipeline") if run.run_id not in before]
    assert sorted((run.conf or {})["s3_url"] for run in triggered) == [
        f"s3://{UPLOADS}/failed.zip",
        f"s3://{UPLOADS}/old.zip",
    ]
    assert all(run.run_id.startswith("reprocess__") for run in triggered)

    again = bag.get_dag("splat_reprocess").test(run_conf={"dry_run": False})
    assert again.state == "success"
    after = {run.run_id for run in DagRun.find(dag_id="splat_pipeline")}
    assert after == before | {run.run_id for run in triggered}, "runs still in progress are not started twice"
