"""Airflow's components as children of ``up``, every listener on loopback, stopped whole in bounded time.

``up`` starts what ``airflow standalone`` starts (the scheduler, the DAG processor, the API server
and the triggerer), but not through standalone: the scheduler and the triggerer each start a log
server (a task's log while it runs, a trigger's while it is deferred) that Airflow 3.3 binds to
every interface, with no setting for the address (``airflow/utils/serve_logs/core.py`` calls
``uvicorn.run(host="")``). So they are started with ``--skip-serve-logs``, and Airflow's own log
server app (``airflow.utils.serve_logs.log_server:get_app``) runs twice under uvicorn on
127.0.0.1, on the worker's and the triggerer's log ports. The API server asks for a running
task's log at the host the task recorded, so the task host name is 127.0.0.1 too
(``hostname_callable``, in ``airflow_env``).

Each component runs in a session and process group of its own, and starts more: the executor's
workers, each task's supervisor and task process. A scheduler waits for its running tasks before
it exits, and a component stopped by a signal may leave its children as orphans. So they are
stopped by SIGTERM to every process they started, a bounded wait, then SIGKILL for whatever is
left.

Every process they started is found by an environment cookie, as Jenkins' process-tree killer
does: ``SPLATFLOW_STACK`` holds a value unique to this start, and every process Airflow starts
inherits it, also one whose parent is gone. A process that has ended but was not reaped (a
zombie) counts as ended.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from pathlib import Path

import psutil

log = logging.getLogger(__name__)

COOKIE = "SPLATFLOW_STACK"
TERM_GRACE_SECONDS = 8.0
"""How long Airflow's processes get after SIGTERM before SIGKILL: the scheduler alone would wait
for every running task, and ``up`` promises to be gone within 30 s."""
KILL_WAIT_SECONDS = 2.0
"""SIGKILL cannot be ignored: only a process stuck in the kernel outlives it, and ``up`` does not wait
for one."""


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _still_alive(processes: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Those of ``processes`` still alive after up to ``timeout`` seconds (a zombie has ended: its parent,
    gone too, may never reap it)."""
    deadline = time.monotonic() + timeout
    while True:
        alive = [process for process in processes if _alive(process)]
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(0.2)


def processes_with_cookie(name: str, value: str) -> list[psutil.Process]:
    """Every live process whose environment holds ``name=value`` (those this user may read)."""
    found = []
    for process in psutil.process_iter():
        try:
            if process.environ().get(name) == value and _alive(process):
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


WORKER_LOG_PORT = "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"
TRIGGER_LOG_PORT = "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"
DEFAULT_LOG_PORTS = {WORKER_LOG_PORT: "8793", TRIGGER_LOG_PORT: "8794"}
"""Airflow's defaults for the two log server ports (``[logging]`` in its configuration reference)."""
LOOPBACK = "127.0.0.1"


def airflow_commands(environment: Mapping[str, str]) -> dict[str, list[str]]:
    """The command of each component, by name: Airflow's four, and the two log servers on loopback."""
    airflow = str(Path(sys.executable).with_name("airflow"))
    log_server = [sys.executable, "-m", "uvicorn", "--factory", "airflow.utils.serve_logs.log_server:get_app"]
    commands = {
        "scheduler": [airflow, "scheduler", "--skip-serve-logs"],
        "dag-processor": [airflow, "dag-processor"],
        "api-server": [airflow, "api-server"],
        "triggerer": [airflow, "triggerer", "--skip-serve-logs"],
    }
    for name, variable in (("worker-logs", WORKER_LOG_PORT), ("trigger-logs", TRIGGER_LOG_PORT)):
        port = environment.get(variable, DEFAULT_LOG_PORTS[variable])
        commands[name] = [*log_server, "--host", LOOPBACK, "--port", port, "--no-access-log"]
    return commands


class LocalAirflow:
    """Airflow's components with the given environment, their output going to this process's."""

    def __init__(self, environment: Mapping[str, str]) -> None:
        self.cookie = uuid.uuid4().hex
        self.environment = {**environment, COOKIE: self.cookie}
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self) -> None:
        for name, command in airflow_commands(self.environment).items():
            self.processes[name] = subprocess.Popen(command, env=self.environment, start_new_session=True)

    def running(self) -> bool:
        """Whether every component is still running: one that ends by itself ends the stack."""
        return bool(self.processes) and all(process.poll() is None for process in self.processes.values())

    def ended(self) -> list[str]:
        """The components that have ended, by name."""
        return [name for name, process in self.processes.items() if process.poll() is not None]

    def started_processes(self) -> list[psutil.Process]:
        """The components and every process they started that is still alive."""
        found = {process.pid: process for process in processes_with_cookie(COOKIE, self.cookie)}
        for component in self.processes.values():
            try:
                root = psutil.Process(component.pid)
                found.update({process.pid: process for process in [root, *root.children(recursive=True)]})
            except psutil.NoSuchProcess:
                continue
        return [process for process in found.values() if _alive(process)]

    def stop(self) -> None:
        """SIGTERM to all of it, up to ``TERM_GRACE_SECONDS`` to end, then SIGKILL to what is left."""
        if not self.processes:
            return
        self._signal_all(signal.SIGTERM)
        leftover = _still_alive(self.started_processes(), TERM_GRACE_SECONDS)
        if leftover or self.started_processes():
            log.warning("Airflow processes outlived SIGTERM by %.0f s: killing them", TERM_GRACE_SECONDS)
            self._signal_all(signal.SIGKILL)
        remaining = _still_alive(self.started_processes(), KILL_WAIT_SECONDS)
        if remaining:
            log.error("Airflow processes still alive after SIGKILL: %s", [process.pid for process in remaining])
        for component in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                component.wait(timeout=0.5)

    def _signal_all(self, sig: signal.Signals) -> None:
        for component in self.processes.values():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(component.pid, sig)
        for process in self.started_processes():
            try:
                process.send_signal(sig)
            except psutil.NoSuchProcess:
                continue
