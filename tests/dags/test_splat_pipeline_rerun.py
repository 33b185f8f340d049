"""Running a finished run again (every task cleared) sends no second email and rewrites nothing.

``dag.test()`` with the logical date and run-after time of an earlier run replaces that run under the
same run id,
so every task runs again against the same prefix, as when a user clears the whole run in the UI.
The delivered result must stay exactly as delivered: the links in the email point at it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pipeline_support import (
    REPO_ROOT,
    SAMPLE_PHOTOS,
    WORK,
    mail_to,
    pipeline_runtime,
    s3_of,
    upload,
    zip_photos,
)

from splatflow.local.aws_clients import aws_client
from splatflow.local.runtime import EmbeddedRuntime
from splatflow.pipeline.jobs import STAGE_JOB_KINDS
from splatflow.pipeline.requests import job_name
from splatflow.pipeline.submission import run_prefix

__all__ = ["pipeline_runtime"]

pytestmark = pytest.mark.slow

ADDRESS = "rerun@example.com"
LOGICAL_DATE = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _run_at_logical_date(conf: dict[str, Any]) -> Any:
    from airflow.models.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO_ROOT / "dags" / "splat_pipeline.py"))
    assert bag.import_errors == {}
    return bag.get_dag("splat_pipeline").test(run_after=LOGICAL_DATE, logical_date=LOGICAL_DATE, run_conf=conf)


def _objects(runtime: EmbeddedRuntime, run_id: str) -> dict[str, tuple[str, datetime]]:
    prefix = run_prefix(WORK, run_id).key
    listing = s3_of(runtime).list_objects_v2(Bucket=WORK, Prefix=prefix)["Contents"]
    return {item["Key"].removeprefix(prefix): (item["ETag"], item["LastModified"]) for item in listing}


def stage_job_names(runtime: EmbeddedRuntime, run_id: str) -> dict[str, list[str]]:
    """The runner's jobs for each stage of the run: one each, unless a retry or a re-run added one."""
    assert runtime.runner is not None
    sagemaker = aws_client("sagemaker", runtime.runner.url, "us-east-1")
    names = {}
    for stage, kind in STAGE_JOB_KINDS.items():
        noun = f"{kind.capitalize()}Job"
        listing = getattr(sagemaker, f"list_{kind}_jobs")(NameContains=job_name(run_id, stage))
        names[stage] = [summary[f"{noun}Name"] for summary in listing[f"{noun}Summaries"]]
    return names


def test_clearing_a_finished_run_sends_no_second_email_and_keeps_its_outputs(
    pipeline_runtime: EmbeddedRuntime,
) -> None:
    url = upload(pipeline_runtime, "rerun/flight.zip", zip_photos(sorted(SAMPLE_PHOTOS.glob("*.JPG"))[:12]))
    conf = {"s3_url": url, "email": ADDRESS, "preset": "preview"}
    first = _run_at_logical_date(conf)
    assert first.state == "success"
    delivered = _objects(pipeline_runtime, first.run_id)
    jobs = stage_job_names(pipeline_runtime, first.run_id)
    assert all(len(names) == 1 for names in jobs.values()), jobs

    again = _run_at_logical_date(conf)

    assert again.run_id == first.run_id and again.state == "success"
    assert len(mail_to(pipeline_runtime, ADDRESS)) == 1
    assert _objects(pipeline_runtime, first.run_id) == delivered, "every object keeps its bytes and date"
    assert stage_job_names(pipeline_runtime, first.run_id) == jobs, "no stage job started again"
    skipped = {ti.task_id for ti in again.get_task_instances() if ti.state == "skipped"}
    assert {"sfm", "train", "compress", "publish", "deliver"} <= skipped, skipped
