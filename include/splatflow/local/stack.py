"""``make up``: the embedded runtime with Airflow on it and the bundled sample ready to run.

In order: the runtime starts (S3, the job runner, the SMTP sink); the sample goes into the
uploads bucket, zipped as ``make demo`` zips it; Airflow's components start, every listener on
loopback (``airflow_processes``); once the API server answers and knows ``splat_pipeline``, a
ready-to-run trigger is printed (the UI's steps and a curl command). On SIGINT (Ctrl-C) or
SIGTERM, Airflow is stopped whole (``airflow_processes``), the runs
it left queued or running are marked failed (``unfinished_runs``), and the runtime stops with
its jobs: nothing ``up`` started outlives it.
"""

from __future__ import annotations

import json
import logging
import math
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from splatflow.local.airflow_env import airflow_environment, prepare_airflow
from splatflow.local.airflow_processes import LocalAirflow
from splatflow.local.demo import upload_sample
from splatflow.local.runtime import EmbeddedRuntime
from splatflow.pipeline.ids import PIPELINE_DAG_ID

log = logging.getLogger(__name__)

ADMIN = "admin"
PASSWORD_FILE = "simple_auth_manager_passwords.json.generated"
"""Where Airflow's simple auth manager keeps the admin password it generated, in ``AIRFLOW_HOME``."""
EXAMPLE_EMAIL = "you@example.com"
READY_TIMEOUT_SECONDS = 600
LOCAL_STACK_DEFAULTS = {"SPLATFLOW_REPROCESS_SCHEDULE": "none"}
"""Settings of the local stack that the environment ``up`` runs in may override: ``splat_reprocess``
starts no runs on its own (set ``SPLATFLOW_REPROCESS_SCHEDULE=@daily`` to have it), but can be
triggered from the UI."""
STOP_BUDGET_SECONDS = 28.0
"""From the stop signal until ``up`` has exited: ``up`` promises to be gone within 30 s. Airflow's
processes get at most ``TERM_GRACE_SECONDS`` plus two seconds, marking the unfinished runs failed
(Airflow's import and one transaction, about 5 s) runs meanwhile the runtime stops its jobs, and
whatever is left of the budget is the most the marking is waited for."""
API_TIMEOUT_SECONDS = 2
"""One readiness request to the local API server; short, so a stop during start-up is not held up."""


@dataclass(frozen=True)
class Trigger:
    """How to start ``splat_pipeline`` on a ZIP in the stack's S3, from the UI and from a shell."""

    api_url: str
    s3_url: str
    password_file: Path
    new_password: str | None = None
    """The admin password, on the start that generated it: shown once, as Airflow shows it once."""
    email: str = EXAMPLE_EMAIL
    preset: str = "preview"

    def conf(self) -> dict[str, Any]:
        return {"s3_url": self.s3_url, "email": self.email, "preset": self.preset}

    def curl(self) -> str:
        """Commands for a POSIX shell; ``python3`` reads the password from its file and the token from the
        reply, as a stock Debian has no ``python``. The password is never in the command, so it is not
        printed on every start."""
        credentials = json.dumps({"username": ADMIN, "password": "$PASSWORD"}).replace('"', '\\"')
        body = json.dumps({"logical_date": None, "conf": self.conf()})
        return (
            f'PASSWORD=$(python3 -c \'import json; print(json.load(open("{self.password_file}"))["{ADMIN}"])\')\n'
            f"TOKEN=$(curl -s -X POST {self.api_url}/auth/token -H 'Content-Type: application/json' \\\n"
            f'  -d "{credentials}" | python3 -c \'import json,sys; print(json.load(sys.stdin)["access_token"])\')\n'
            f"curl -X POST {self.api_url}/api/v2/dags/{PIPELINE_DAG_ID}/dagRuns \\\n"
            f"  -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' \\\n"
            f"  -d '{body}'"
        )

    def sign_in(self) -> str:
        if self.new_password is not None:
            return f"sign in as {ADMIN} with the password {self.new_password} (kept in {self.password_file})"
        return f"sign in as {ADMIN} with the password kept in {self.password_file}"

    def instructions(self, mail_dir: Path) -> str:
        return "\n".join(
            [
                f"{PIPELINE_DAG_ID} is ready to run on the bundled sample, {self.s3_url}",
                "",
                f"From the UI: open {self.api_url}, {self.sign_in()}.",
                f"Open Dags, then {PIPELINE_DAG_ID}, then Trigger; put {self.s3_url} in 'Photos (ZIP) in S3'",
                f"and {self.email} in 'Email', choose the {self.preset} preset, and press Trigger.",
                "",
                "From a shell:",
                self.curl(),
                "",
                f"The email is saved under {mail_dir}/. Your own photos: make demo PHOTOS=path/to/photos.zip",
            ]
        )


def _ask(url: str, payload: object = None, token: str | None = None) -> Any:
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, headers=headers)
    with urllib.request.urlopen(request, timeout=API_TIMEOUT_SECONDS) as reply:
        return json.loads(reply.read() or b"null")


def admin_password(airflow_home: Path) -> str | None:
    path = airflow_home / PASSWORD_FILE
    try:
        password: str | None = json.loads(path.read_text(encoding="utf-8")).get(ADMIN)
    except (OSError, ValueError):
        return None
    return password


def pipeline_registered(api_url: str, password: str) -> bool:
    """Whether the API server answers and knows ``splat_pipeline`` (the DAG processor has parsed it)."""
    try:
        token = _ask(f"{api_url}/auth/token", {"username": ADMIN, "password": password})["access_token"]
        _ask(f"{api_url}/api/v2/dags/{PIPELINE_DAG_ID}", token=token)
    except (urllib.error.URLError, OSError, ValueError, KeyError):
        return False
    return True


class AirflowEndedError(RuntimeError):
    """One of Airflow's components exited by itself while the stack was up."""


def run_stack(runtime: EmbeddedRuntime, state_dir: Path, api_port: int) -> None:
    """Run the stack until SIGINT or SIGTERM, then stop all of it within ``STOP_BUDGET_SECONDS``.

    Raises :class:`AirflowEndedError` (after the same stop) when Airflow ends by itself, so that ``up``
    exits with an error rather than as if asked to stop.
    """
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    runtime.start()
    marking: subprocess.Popen[bytes] | None = None
    ended_by_itself = False
    ended: list[str] = []
    deadline = math.inf
    try:
        environment = {
            **LOCAL_STACK_DEFAULTS,
            **os.environ,
            **runtime.environment(),
            **airflow_environment(state_dir, api_port=api_port),
        }
        prepare_airflow(environment)
        settings = runtime.settings
        sample = upload_sample(runtime)
        if stopping.is_set():
            return
        airflow_home = Path(environment["AIRFLOW_HOME"])
        password_existed = admin_password(airflow_home) is not None
        airflow = LocalAirflow(environment)
        log.info("starting Airflow: UI and REST API on http://localhost:%d", api_port)
        airflow.start()
        try:
            trigger = _wait_until_ready(airflow, airflow_home, api_port, sample, stopping, password_existed)
            if trigger is not None:
                print(trigger.instructions(settings.mail_dir), flush=True)  # noqa: T201 - for the person at the terminal
            while not stopping.wait(1.0) and airflow.running():
                pass
            ended_by_itself = not stopping.is_set()
            ended = airflow.ended()
        finally:
            deadline = time.monotonic() + STOP_BUDGET_SECONDS
            log.info("stopping Airflow")
            airflow.stop()
            marking = _fail_unfinished_runs(environment)
    finally:
        deadline = min(deadline, time.monotonic() + STOP_BUDGET_SECONDS)
        log.info("stopping the embedded runtime")
        runtime.stop()
        if marking is not None:
            _wait_for_marking(marking, deadline)
    if ended_by_itself:
        raise AirflowEndedError(f"Airflow's {', '.join(ended)} exited by itself; its output above says why")


def _wait_until_ready(
    airflow: LocalAirflow,
    airflow_home: Path,
    api_port: int,
    s3_url: str,
    stopping: threading.Event,
    password_existed: bool,
) -> Trigger | None:
    """The trigger to print once ``splat_pipeline`` can be started; None if the stack stops first.

    ``password_existed``: the admin password was generated on an earlier start, so it is not shown again.
    """
    api_url = f"http://localhost:{api_port}"
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while airflow.running() and not stopping.is_set() and time.monotonic() < deadline:
        password = admin_password(airflow_home)
        if password is not None and pipeline_registered(api_url, password):
            return Trigger(
                api_url=api_url,
                s3_url=s3_url,
                password_file=airflow_home / PASSWORD_FILE,
                new_password=None if password_existed else password,
            )
        stopping.wait(2)
    if airflow.running() and not stopping.is_set():
        log.warning("%s was not ready to trigger within %d s", PIPELINE_DAG_ID, READY_TIMEOUT_SECONDS)
    return None


def _fail_unfinished_runs(environment: Mapping[str, str]) -> subprocess.Popen[bytes]:
    """Start marking the runs left queued or running failed (while the runtime stops), in a process
    that reads Airflow's configuration from ``environment``: this one has none of its own."""
    return subprocess.Popen([sys.executable, "-m", "splatflow.local.unfinished_runs"], env=dict(environment))


def _wait_for_marking(marking: subprocess.Popen[bytes], deadline: float) -> None:
    try:
        status = marking.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        marking.kill()
        marking.wait()
        status = None
    if status != 0:
        log.error("the unfinished runs could not be marked failed (status %s); the log above says why", status)
