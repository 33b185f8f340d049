"""The splat viewer plugin inside Airflow's own API server app (in process, S3 from moto).

The page and the ``.sog`` of a finished run are served to a signed-in user, nothing is served to
anyone else, and runs that published nothing get a plain answer instead of an empty viewer.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any
from unittest import mock
from urllib.parse import quote

import boto3
import pytest
from fastapi.testclient import TestClient
from moto import mock_aws

from splatflow.pipeline.submission import run_prefix
from splatflow.viewer_plugin.link import VIEWER_URL_PREFIX, ViewSplatLink, splat_tab_path

RUN_ID = "manual__2026-11-22T10:00:00+00:00"
WORK_BUCKET = "splatflow-viewer-test"
SOG_BYTES = b"PK\x03\x04 a stand-in for the bundle; the page test loads a real one" * 100
BUNDLE = {"lod-meta.json": b'{"lodLevels": 2}', "0_0/meta.json": b'{"count": 5}', "0_0/means_l.webp": b"RIFF a texture"}
MANIFEST = {
    "status": "succeeded",
    "run_id": RUN_ID,
    "quality": {"gaussians": 4321, "psnr_db": 22.5},
    "outputs": {"sog": f"s3://{WORK_BUCKET}/runs/run-key/compress/scene.sog"},
}


def viewer_url(run_id: str = RUN_ID, dag_id: str = "splat_pipeline") -> str:
    return f"{VIEWER_URL_PREFIX}/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}/"


@pytest.fixture(scope="module")
def api(airflow_db: Any) -> Iterator[TestClient]:
    environment = {
        "AIRFLOW_CONN_AWS_DEFAULT": json.dumps({"conn_type": "aws", "extra": {"region_name": "us-east-1"}}),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "SPLATFLOW_WORK_BUCKET": WORK_BUCKET,
        "AIRFLOW__API_AUTH__JWT_SECRET": "a-test-only-signing-secret-of-enough-length",
    }
    with mock.patch.dict(os.environ, environment), mock_aws():
        from airflow.api_fastapi.app import create_app

        prefix = run_prefix(WORK_BUCKET, RUN_ID)
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=WORK_BUCKET)
        sog_key = prefix.key + "compress/scene.sog"
        s3.put_object(Bucket=WORK_BUCKET, Key=sog_key, Body=SOG_BYTES)
        for name, body in BUNDLE.items():
            s3.put_object(Bucket=WORK_BUCKET, Key=prefix.key + "compress/lod/" + name, Body=body)
        lod = f"s3://{WORK_BUCKET}/{prefix.key}compress/lod/lod-meta.json"
        manifest = {**MANIFEST, "outputs": {"sog": f"s3://{WORK_BUCKET}/{sog_key}", "lod": lod}}
        s3.put_object(Bucket=WORK_BUCKET, Key=prefix.key + "manifest.json", Body=json.dumps(manifest).encode())
        with TestClient(create_app()) as client:
            yield client


@pytest.fixture(scope="module")
def signed_in(api: TestClient) -> dict[str, str]:
    """A viewer-role user's token, as Airflow's own login hands out."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    token = get_auth_manager().generate_jwt(SimpleAuthManagerUser(username="pilot", role="viewer"))
    return {"Authorization": f"Bearer {token}"}


def test_unauthenticated_requests_are_refused(api: TestClient) -> None:
    assert api.get(viewer_url()).status_code == 401
    assert api.get(viewer_url() + "scene.sog").status_code == 401


def test_signed_in_user_gets_the_viewer_page_of_a_finished_run(api: TestClient, signed_in: dict[str, str]) -> None:
    reply = api.get(viewer_url(), headers=signed_in)

    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/html")
    assert 'data-sog-url="scene.sog"' in reply.text
    assert 'data-lod-url="lod/lod-meta.json"' in reply.text, "the run has a streamed bundle: the page streams it"
    assert "4,321" in reply.text and "22.50 dB" in reply.text


def test_signed_in_user_gets_the_runs_sog_with_its_length(api: TestClient, signed_in: dict[str, str]) -> None:
    reply = api.get(viewer_url() + "scene.sog", headers=signed_in)

    assert reply.status_code == 200
    assert reply.headers["content-length"] == str(len(SOG_BYTES))
    assert reply.content == SOG_BYTES


def test_signed_in_user_gets_each_file_of_the_runs_streamed_bundle(api: TestClient, signed_in: dict[str, str]) -> None:
    for name, body in BUNDLE.items():
        reply = api.get(viewer_url() + "lod/" + name, headers=signed_in)
        assert reply.status_code == 200 and reply.content == body, name
        assert reply.headers["content-type"].startswith("image/webp" if name.endswith(".webp") else "application/json")
    assert api.get(viewer_url() + "lod/lod-meta.json").status_code == 401


@pytest.mark.parametrize("name", ["1_0/meta.json", "../manifest.json", "0_0/../../manifest.json", "0_0/x.png"])
def test_nothing_outside_the_bundle_is_served_from_it(api: TestClient, signed_in: dict[str, str], name: str) -> None:
    reply = api.get(viewer_url() + "lod/" + name, headers=signed_in)
    assert reply.status_code == 404


def test_a_run_that_published_nothing_gets_a_page_that_says_why(api: TestClient, signed_in: dict[str, str]) -> None:
    reply = api.get(viewer_url(run_id="manual__never-finished"), headers=signed_in)

    assert reply.status_code == 404
    assert reply.headers["content-type"].startswith("text/html")
    assert "<h1>There is no such run</h1>" in reply.text
    assert "Airflow has no run &#x27;manual__never-finished&#x27; of splat_pipeline." in reply.text


def test_the_sog_of_a_run_that_published_nothing_is_a_404_in_words(api: TestClient, signed_in: dict[str, str]) -> None:
    reply = api.get(viewer_url(run_id="manual__never-finished") + "scene.sog", headers=signed_in)

    assert reply.status_code == 404
    assert "has not published a splat" in reply.json()["detail"]


def test_other_dags_runs_are_not_served(api: TestClient, signed_in: dict[str, str]) -> None:
    assert api.get(viewer_url(dag_id="another_dag"), headers=signed_in).status_code == 404


def test_view_splat_link_is_offered_only_on_the_pipelines_published_runs() -> None:
    link = ViewSplatLink()
    published = mock.Mock(dag_id="splat_pipeline", run_id=RUN_ID)
    with mock.patch("splatflow.viewer_plugin.link.run_has_published", return_value=True) as has_published:
        assert (
            link.get_link(None, ti_key=published) == f"/dags/splat_pipeline/runs/{quote(RUN_ID, safe='')}/plugin/splat"
        )
        assert link.get_link(None, ti_key=mock.Mock(dag_id="another_dag", run_id=RUN_ID)) == ""
    has_published.assert_called_once_with("splat_pipeline", RUN_ID)
    with mock.patch("splatflow.viewer_plugin.link.run_has_published", return_value=False):
        assert link.get_link(None, ti_key=published) == ""


def test_the_splat_tab_link_keeps_airflows_sub_path() -> None:
    with mock.patch.dict(os.environ, {"AIRFLOW__API__BASE_URL": "https://airflow.example.com/ops/"}):
        path = splat_tab_path("splat_pipeline", "manual__a b")

    assert path == "/ops/dags/splat_pipeline/runs/manual__a%20b/plugin/splat"
