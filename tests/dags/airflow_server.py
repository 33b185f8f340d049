"""``airflow standalone`` on the embedded runtime, driven through the REST API as a website would.

Shared by the REST API and load tests: the server has authentication on (a user and a password
file), its own ``AIRFLOW_HOME`` (so its task logs can be read afterwards), the pipeline's GPU
pool, and an ``aws_default`` connection whose secret key is random and unique to the server, so a
test can look for that secret in what Airflow wrote.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
from pipeline_support import pipeline_environment
from tenacity import before_sleep_log, retry, retry_if_exception, stop_after_attempt, wait_exponential

from splatflow.local.airflow_env import airflow_environment, prepare_airflow
from splatflow.local.net import free_port
from splatflow.local.runtime import EmbeddedRuntime
from splatflow.pipeline import ids

log = logging.getLogger(__name__)

USER, PASSWORD = "pilot-admin", "a-long-test-password"
DAG_ID = ids.PIPELINE_DAG_ID
FINISHED = frozenset({"success", "failed"})


class ApiError(Exception):
    """A 4xx/5xx answer of the REST API, with its status code and the ``detail`` it gave."""

    def __init__(self, code: int, detail: str) -> None:
        super().__init__(f"HTTP {code}: {detail}")
        self.code = code
        self.detail = detail


def request_json(url: str, payload: object = None, token: str | None = None, method: str = "GET") -> Any:
    """One JSON request; an error answer becomes :class:`ApiError` carrying the API's own reason."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        body = error.read().decode("utf-8", "replace")
        try:
            detail = json.loads(body).get("detail", body)
        except (ValueError, AttributeError):
            detail = body
        raise ApiError(error.code, detail if isinstance(detail, str) else json.dumps(detail)) from None


def _worth_asking_again(error: BaseException) -> bool:
    """A server error or a timeout: the request may or may not have gone through."""
    return isinstance(error, TimeoutError) or (isinstance(error, ApiError) and error.code >= 500)


@dataclass(frozen=True)
class AirflowServer:
    base: str
    runtime: EmbeddedRuntime
    airflow_home: Path
    pid: int
    aws_secret_key: str
    """The ``aws_default`` connection's secret key: it must never appear in a log."""

    @property
    def logs_dir(self) -> Path:
        return self.airflow_home / "logs"

    def token(self) -> str:
        answer = request_json(f"{self.base}/auth/token", {"username": USER, "password": PASSWORD}, method="POST")
        token: str = answer["access_token"]
        return token

    def api(self, path: str, payload: object = None, method: str = "GET", token: str | None = None) -> Any:
        return request_json(f"{self.base}/api/v2{path}", payload, token or self.token(), method)

    def wait_until_dag_is_active(self, token: str, timeout: float = 120) -> None:
        """Wait for the DAG processor to register ``splat_pipeline``, and unpause it (only it)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self.api(f"/dags/{DAG_ID}", token=token).get("is_paused") is False:
                    return
                self.api(f"/dags/{DAG_ID}", {"is_paused": False}, "PATCH", token)
            except ApiError as error:
                if error.code != 404:
                    raise
            assert time.monotonic() < deadline, f"the DAG processor never registered {DAG_ID}"
            time.sleep(2)

    def trigger(self, conf: dict[str, Any], token: str) -> str:
        """Start one run, as ``POST /api/v2/dags/splat_pipeline/dagRuns`` does for a website; its run id.

        The client names the run, so it can safely ask again after a server error or a timeout,
        as a website's back end would: SQLite lets one writer in at a time, and under load the
        API server answers "database is locked" (500) now and then. A 409 then means an earlier
        attempt went through.
        """
        run_id = f"manual__{uuid.uuid4().hex}"
        try:
            self._create_run({"dag_run_id": run_id, "logical_date": None, "conf": conf}, token)
        except ApiError as error:
            if error.code != 409:
                raise
        return run_id

    @retry(
        retry=retry_if_exception(_worth_asking_again),
        stop=stop_after_attempt(5),
        wait=wait_exponential(min=2, max=20),
        before_sleep=before_sleep_log(log, logging.WARNING),
        reraise=True,
    )
    def _create_run(self, body: dict[str, Any], token: str) -> None:
        self.api(f"/dags/{DAG_ID}/dagRuns", body, "POST", token)

    def run_state(self, run_id: str, token: str) -> str:
        state: str = self.api(f"/dags/{DAG_ID}/dagRuns/{urllib.parse.quote(run_id, safe='')}", token=token)["state"]
        return state

    def wait_for_runs(self, run_ids: Collection[str], timeout: float) -> dict[str, str]:
        """Each run's final state; fails naming the runs still unfinished at the deadline.

        A poll answered with a server error is asked again on the next round, as any client of a
        busy server would; how many there were is logged.
        """
        deadline = time.monotonic() + timeout
        token = self.token()
        states: dict[str, str] = {}
        server_errors = 0
        while True:
            for run_id in run_ids:
                if states.get(run_id) not in FINISHED:
                    try:
                        states[run_id] = self.run_state(run_id, token)
                    except ApiError as error:
                        if error.code < 500:
                            raise
                        server_errors += 1
                        log.warning("polling run %s: %s", run_id, error)
                        states.setdefault(run_id, "unknown")
            unfinished = {run_id: state for run_id, state in states.items() if state not in FINISHED}
            if not unfinished:
                log.info("%d runs finished; %d polls answered with a server error", len(states), server_errors)
                return states
            assert time.monotonic() < deadline, f"runs unfinished after {timeout:.0f} s: {unfinished}"
            time.sleep(3)

    def task_log_files(self) -> list[Path]:
        """Every task log file Airflow wrote (``dag_id=…/run_id=…/task_id=…/attempt=….log*``)."""
        return sorted(path for path in self.logs_dir.glob("dag_id=*/**/*") if path.is_file())

    def process_tree(self) -> list[psutil.Process]:
        """``airflow standalone`` and every process it started (API server, scheduler, task runners…)."""
        root = psutil.Process(self.pid)
        return [root, *root.children(recursive=True)]


def _with_secret_key(connection: str, secret: str) -> str:
    fields = json.loads(connection)
    fields["password"] = secret
    return json.dumps(fields)


@contextmanager
def airflow_server(state: Path, pipeline_settings: dict[str, str] | None = None) -> Iterator[AirflowServer]:
    """A started runtime and ``airflow standalone`` on it, up and answering; both stopped afterwards.

    ``pipeline_settings`` override the test-sized ``SPLATFLOW_*`` settings for this server.
    """
    with pipeline_environment(state) as runtime:
        os.environ.update(pipeline_settings or {})
        port = free_port()
        passwords = state / "passwords.json"
        passwords.write_text(json.dumps({USER: PASSWORD}))
        # moto takes any key; a random one is a needle no log line can hold by chance.
        secret = "SplatflowSecret" + secrets.token_hex(16)
        environment = {
            **os.environ,
            **airflow_environment(state, api_port=port),
            "AIRFLOW_CONN_AWS_DEFAULT": _with_secret_key(os.environ["AIRFLOW_CONN_AWS_DEFAULT"], secret),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
            # Only splat_pipeline is unpaused (wait_until_dag_is_active): the daily splat_reprocess
            # would otherwise start runs of its own for failed submissions earlier tests left in
            # the shared S3, and mix them into what a test counts.
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        }
        prepare_airflow(environment)
        log_path = state / "standalone.log"
        airflow = str(Path(sys.executable).with_name("airflow"))
        with log_path.open("w") as log:
            process = subprocess.Popen(
                [airflow, "standalone"], env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
            server = AirflowServer(
                f"http://127.0.0.1:{port}", runtime, Path(environment["AIRFLOW_HOME"]), process.pid, secret
            )
            try:
                deadline = time.monotonic() + 180
                while True:
                    try:
                        request_json(f"{server.base}/api/v2/monitor/health")
                        break
                    except (urllib.error.URLError, ConnectionError, ApiError):
                        assert process.poll() is None, log_path.read_text()[-3000:]
                        assert time.monotonic() < deadline, "the API server did not come up"
                        time.sleep(2)
                yield server
            finally:
                # standalone's components may leave its process group: end every descendant.
                children = psutil.Process(process.pid).children(recursive=True)
                os.killpg(process.pid, 15)
                process.wait(timeout=60)
                _, alive = psutil.wait_procs(children, timeout=30)
                for leftover in alive:
                    leftover.kill()


PRESIGNED_URL_MARKERS = ("X-Amz-Signature", "X-Amz-Credential", "X-Amz-Security-Token")
"""Query parameters only a presigned S3 URL carries (SigV4)."""


def leaked_secrets(server: AirflowServer) -> dict[str, list[str]]:
    """Each file under the server's logs folder that holds the AWS secret key or a presigned URL, and what it holds."""
    needles = (server.aws_secret_key, *PRESIGNED_URL_MARKERS)
    leaks: dict[str, list[str]] = {}
    for path in sorted(server.logs_dir.rglob("*")):
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            found = [
                "the AWS secret key" if needle == server.aws_secret_key else needle
                for needle in needles
                if needle in text
            ]
            if found:
                leaks[str(path.relative_to(server.logs_dir))] = found
    return leaks
