"""Runs started through Airflow's REST API, as a website back end would start them.

``airflow standalone`` (API server, scheduler, triggerer, DAG processor) runs on the embedded
runtime with authentication on. A request without a token is refused; a valid ``conf`` runs to
success; values outside the DAG's params schema are refused by the API itself (400 naming the
param, no run created); fields the pipeline does not read fail the input check with one email
naming them; and no task log holds the AWS secret key or a presigned URL.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from airflow_server import DAG_ID, AirflowServer, ApiError, airflow_server, leaked_secrets, request_json
from pipeline_support import UPLOADS, WORK, html_of, mail_to, s3_of, upload
from synthetic_scene import synthetic_scene

from splatflow.formats.ply import write_ply
from splatflow.pipeline import ids
from splatflow.pipeline.submission import run_prefix

pytestmark = pytest.mark.slow

COMPRESS_JOB = ids.COMPRESS

RUN_TIMEOUT_SECONDS = 300


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowServer]:
    with airflow_server(tmp_path_factory.mktemp("rest")) as started:
        started.wait_until_dag_is_active(started.token())
        yield started


@pytest.fixture(scope="module")
def model_url(server: AirflowServer) -> str:
    with tempfile.TemporaryDirectory() as folder:
        ply = Path(folder) / "scene.ply"
        write_ply(synthetic_scene(400, sh_degree=0, seed=4), ply)
        return upload(server.runtime, "rest/scene.ply", ply.read_bytes())


@pytest.fixture(scope="module")
def compress_only_run(server: AirflowServer, model_url: str) -> str:
    """One successful run (validate, compress, publish with presigned links, the result email)."""
    run_id = server.trigger(
        {"steps": "compress_only", "model_url": model_url, "email": "rest@example.com"}, server.token()
    )
    assert server.wait_for_runs([run_id], RUN_TIMEOUT_SECONDS) == {run_id: "success"}
    return run_id


def _published_keys(server: AirflowServer, run_id: str) -> list[str]:
    prefix = run_prefix(WORK, run_id).key
    return [
        item["Key"] for item in s3_of(server.runtime).list_objects_v2(Bucket=WORK, Prefix=prefix).get("Contents", [])
    ]


def _run_count(server: AirflowServer) -> int:
    count: int = server.api(f"/dags/{DAG_ID}/dagRuns?limit=1")["total_entries"]
    return count


def test_unauthenticated_trigger_is_refused(server: AirflowServer) -> None:
    with pytest.raises(ApiError) as refused:
        request_json(f"{server.base}/api/v2/dags/{DAG_ID}/dagRuns", {"logical_date": None, "conf": {}}, method="POST")
    assert refused.value.code in {401, 403}


def test_run_triggered_through_the_rest_api_succeeds(server: AirflowServer, compress_only_run: str) -> None:
    assert [m["Subject"] for m in mail_to(server.runtime, "rest@example.com")] == [
        "Your 3D splat of scene.ply is ready"
    ]
    assert any(key.endswith("/manifest.json") for key in _published_keys(server, compress_only_run))


OUTSIDE_THE_SCHEMA: dict[str, tuple[dict[str, Any], str]] = {
    "a preset that does not exist": ({"preset": "ultra"}, "preset"),
    "steps that do not exist": ({"steps": "everything"}, "steps"),
    "steps given as a number": ({"steps": 3}, "steps"),
    "no email at all": ({"email": None}, "email"),
    "a list of email addresses": ({"email": ["a@example.com", "b@example.com"]}, "email"),
    "an S3 URL longer than S3 allows": ({"s3_url": f"s3://{UPLOADS}/{'a' * 3000}.zip"}, "s3_url"),
}


@pytest.mark.parametrize("case", list(OUTSIDE_THE_SCHEMA))
def test_trigger_outside_the_params_schema_is_refused_naming_the_param(server: AirflowServer, case: str) -> None:
    change, param = OUTSIDE_THE_SCHEMA[case]
    conf = {"s3_url": f"s3://{UPLOADS}/photos.zip", "email": "schema@example.com", **change}
    runs_before = _run_count(server)

    with pytest.raises(ApiError) as refused:
        server.trigger(conf, server.token())

    assert refused.value.code == 400
    assert f"param {param}:" in refused.value.detail, refused.value.detail
    assert _run_count(server) == runs_before, "a refused trigger must not create a run"


UNREAD_FIELDS: dict[str, dict[str, Any]] = {
    "negative.steps@example.com": {"max_steps": -5},
    "endless.steps@example.com": {"max_steps": 10**12},
}


def test_fields_the_pipeline_does_not_read_fail_the_input_check(server: AirflowServer, model_url: str) -> None:
    """Airflow accepts extra ``conf`` keys; the input check refuses them, so nothing runs without them."""
    token = server.token()
    runs = {
        server.trigger({"steps": "compress_only", "model_url": model_url, "email": address, **extra}, token): address
        for address, extra in UNREAD_FIELDS.items()
    }

    states = server.wait_for_runs(list(runs), RUN_TIMEOUT_SECONDS)

    for run_id, address in runs.items():
        assert states[run_id] == "failed"
        messages = mail_to(server.runtime, address)
        assert len(messages) == 1, [m["Subject"] for m in messages]
        html = html_of(messages[0])
        assert "input check" in html and "max_steps" in html
        assert "Traceback" not in html
        tasks = server.api(f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances", token=token)["task_instances"]
        compress_state = {task["task_id"]: task["state"] for task in tasks}[COMPRESS_JOB]
        assert compress_state == "upstream_failed"
        assert _published_keys(server, run_id) == []


def test_task_logs_hold_no_credentials_or_presigned_urls(server: AirflowServer, compress_only_run: str) -> None:
    """The run emailed presigned links and used the connection's secret key, yet no log holds either."""
    (result_email,) = mail_to(server.runtime, "rest@example.com")
    assert "X-Amz-Signature" in html_of(result_email), "the run made no presigned link, so the check proves nothing"
    logs: dict[str, str] = {}
    for path in server.task_log_files():
        if f"run_id={compress_only_run}" in str(path):
            logs[path.parent.name] = logs.get(path.parent.name, "") + path.read_text()
    assert f"task_id={ids.PUBLISH}" in logs and f"task_id={COMPRESS_JOB}" in logs, sorted(logs)
    assert "compress: finished" in logs[f"task_id={COMPRESS_JOB}"], "the job's log was not copied into the task log"
    assert "published: s3://" in logs[f"task_id={ids.PUBLISH}"]

    assert leaked_secrets(server) == {}
