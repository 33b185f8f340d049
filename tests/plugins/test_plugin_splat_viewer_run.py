"""The plugin on a run the real ``splat_pipeline`` finished on the embedded runtime.

The task link appears once the run has published, and Airflow's API server app serves that
run's page and ``.sog`` (read from the runtime's S3 with ``aws_default``) to a signed-in user only.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import quote

import pytest
from airflow.models.taskinstancekey import TaskInstanceKey
from fastapi.testclient import TestClient
from pipeline_support import WORK, run_pipeline, s3_of, upload
from synthetic_scene import synthetic_scene

from splatflow.formats.ply import write_ply
from splatflow.local.runtime import EmbeddedRuntime
from splatflow.pipeline import ids
from splatflow.pipeline.submission import run_prefix
from splatflow.viewer_plugin.link import VIEWER_URL_PREFIX, ViewSplatLink, splat_tab_path

pytestmark = pytest.mark.slow


def _ply_bytes() -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "scene.ply"
        write_ply(synthetic_scene(500, sh_degree=0, seed=4), path)
        return path.read_bytes()


@pytest.fixture(scope="module")
def finished_run(pipeline_runtime: EmbeddedRuntime) -> Any:
    url = upload(pipeline_runtime, "models/viewer.ply", _ply_bytes())
    run = run_pipeline({"steps": "compress_only", "model_url": url, "email": "viewer@example.com"})
    assert run.state == "success"
    return run


def test_view_splat_link_points_at_the_finished_runs_viewer(finished_run: Any) -> None:
    key = TaskInstanceKey(ids.PIPELINE_DAG_ID, ids.COMPRESS, finished_run.run_id, try_number=1, map_index=-1)

    assert ViewSplatLink().get_link(None, ti_key=key) == splat_tab_path("splat_pipeline", finished_run.run_id)
    assert ViewSplatLink().get_link(None, ti_key=key._replace(run_id="manual__not-a-run")) == ""


def test_api_server_links_and_serves_the_finished_runs_viewer_to_signed_in_users_only(
    finished_run: Any, pipeline_runtime: EmbeddedRuntime
) -> None:
    from airflow.api_fastapi.app import create_app, get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    prefix = run_prefix(WORK, finished_run.run_id)
    sog = s3_of(pipeline_runtime).get_object(Bucket=WORK, Key=prefix.key + "compress/scene.sog")["Body"].read()
    page_url = f"{VIEWER_URL_PREFIX}/dags/splat_pipeline/runs/{quote(finished_run.run_id, safe='')}/"
    secret = {"AIRFLOW__API_AUTH__JWT_SECRET": "a-test-only-signing-secret-of-enough-length"}
    with mock.patch.dict(os.environ, secret), TestClient(create_app()) as api:
        token = get_auth_manager().generate_jwt(SimpleAuthManagerUser(username="pilot", role="viewer"))
        signed_in = {"Authorization": f"Bearer {token}"}

        assert api.get(page_url).status_code == 401
        page = api.get(page_url, headers=signed_in)
        served_sog = api.get(page_url + "scene.sog", headers=signed_in)
        run_path = f"/api/v2/dags/splat_pipeline/dagRuns/{quote(finished_run.run_id, safe='')}"
        links = api.get(f"{run_path}/taskInstances/{ids.COMPRESS}/links", headers=signed_in)

    assert links.status_code == 200
    # What the task's page in the UI shows: the run's Splat tab, which shows this page inside Airflow's.
    assert links.json()["extra_links"]["View splat"] == splat_tab_path("splat_pipeline", finished_run.run_id)
    assert page.status_code == 200
    assert "<tr><th>Gaussians</th><td>500</td></tr>" in page.text  # from the run's manifest
    assert served_sog.status_code == 200
    assert served_sog.content == sog
