"""A run started through Airflow's REST API (as a website back end would) completes.

Starts ``airflow standalone`` (API server, scheduler, triggerer, DAG processor) on the embedded
runtime, as ``make up`` does, then authenticates, triggers ``splat_pipeline`` with ``conf`` and
polls the run to success; a request without a token is refused.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from pipeline_support import mail_to, pipeline_environment, upload

from splatflow.formats.ply import write_ply
from splatflow.local.airflow_env import airflow_environment, prepare_airflow
from splatflow.local.net import free_port
from splatflow.local.runtime import EmbeddedRuntime
from splatflow.stages.compress.synthetic import synthetic_scene

pytestmark = pytest.mark.slow

USER, PASSWORD = "pilot-admin", "a-long-test-password"


def _request(url: str, payload: dict[str, Any] | None = None, token: str | None = None, method: str = "GET") -> Any:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


@pytest.fixture(scope="module")
def airflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, EmbeddedRuntime]]:
    state = tmp_path_factory.mktemp("rest")
    with pipeline_environment(state) as runtime:
        port = free_port()
        passwords = state / "passwords.json"
        passwords.write_text(json.dumps({USER: PASSWORD}))
        environment = {
            **os.environ,
            **airflow_environment(state, api_port=port),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        }
        prepare_airflow(environment)
        log = (state / "standalone.log").open("w")
        airflow = str(Path(sys.executable).with_name("airflow"))
        server = subprocess.Popen(
            [airflow, "standalone"], env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 180
            while True:
                try:
                    _request(f"{base}/api/v2/monitor/health")
                    break
                except (urllib.error.URLError, ConnectionError):
                    assert server.poll() is None, (state / "standalone.log").read_text()[-3000:]
                    assert time.monotonic() < deadline, "the API server did not come up"
                    time.sleep(2)
            yield base, runtime
        finally:
            # standalone's components may leave its process group: end every descendant.
            children = psutil.Process(server.pid).children(recursive=True)
            os.killpg(server.pid, 15)
            server.wait(timeout=60)
            _, alive = psutil.wait_procs(children, timeout=30)
            for process in alive:
                process.kill()
            log.close()


def _dag_is_active(base: str, token: str) -> bool:
    try:
        return _request(f"{base}/api/v2/dags/splat_pipeline", token=token).get("is_paused") is False
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return False
        raise


def test_unauthenticated_trigger_is_refused(airflow_server: tuple[str, EmbeddedRuntime]) -> None:
    base, _ = airflow_server
    with pytest.raises(urllib.error.HTTPError) as refused:
        _request(f"{base}/api/v2/dags/splat_pipeline/dagRuns", {"logical_date": None, "conf": {}}, method="POST")
    assert refused.value.code in {401, 403}


def test_run_triggered_through_the_rest_api_succeeds(airflow_server: tuple[str, EmbeddedRuntime]) -> None:
    base, runtime = airflow_server
    with tempfile.TemporaryDirectory() as folder:
        ply = Path(folder) / "scene.ply"
        write_ply(synthetic_scene(400, sh_degree=0, seed=4), ply)
        url = upload(runtime, "rest/scene.ply", ply.read_bytes())
    token = _request(f"{base}/auth/token", {"username": USER, "password": PASSWORD}, method="POST")["access_token"]
    deadline = time.monotonic() + 120
    while not _dag_is_active(base, token):
        assert time.monotonic() < deadline, "the DAG processor never registered splat_pipeline"
        time.sleep(2)

    conf = {"steps": "compress_only", "model_url": url, "email": "rest@example.com"}
    run = _request(
        f"{base}/api/v2/dags/splat_pipeline/dagRuns", {"logical_date": None, "conf": conf}, token=token, method="POST"
    )
    run_url = f"{base}/api/v2/dags/splat_pipeline/dagRuns/{urllib.parse.quote(run['dag_run_id'], safe='')}"
    deadline = time.monotonic() + 300
    while (state := _request(run_url, token=token)["state"]) not in {"success", "failed"}:
        assert time.monotonic() < deadline, f"the run is still {state}"
        time.sleep(3)

    assert state == "success"
    assert [m["Subject"] for m in mail_to(runtime, "rest@example.com")] == ["Your 3D splat of scene.ply is ready"]
