"""``airflow standalone`` as a child of ``up``: started in a session of its own, stopped whole, in bounded time.

Standalone runs the scheduler, the DAG processor, the API server and the triggerer as
subprocesses, and they start more: the executor's workers, each task's supervisor and task
process. Stopped by a signal, standalone may end before its components (which then live on as
orphans), and a scheduler waits for its running tasks before it exits. So ``up`` starts it in its
own session and process group, and stops it by SIGTERM to the group and to every process it
started, a bounded wait, then SIGKILL for whatever is left.

Every process it started is found by an environment cookie, as Jenkins' process-tree killer
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


class StandaloneAirflow:
    """``airflow standalone`` with the given environment, its output going to this process's."""

    def __init__(self, environment: Mapping[str, str]) -> None:
        self.cookie = uuid.uuid4().hex
        self.environment = {**environment, COOKIE: self.cookie}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        airflow = str(Path(sys.executable).with_name("airflow"))
        self.process = subprocess.Popen([airflow, "standalone"], env=self.environment, start_new_session=True)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def started_processes(self) -> list[psutil.Process]:
        """Standalone and every process it started that is still alive."""
        if self.process is None:
            return []
        found = {process.pid: process for process in processes_with_cookie(COOKIE, self.cookie)}
        try:
            root = psutil.Process(self.process.pid)
            found.update({process.pid: process for process in [root, *root.children(recursive=True)]})
        except psutil.NoSuchProcess:
            pass
        return [process for process in found.values() if _alive(process)]

    def stop(self) -> None:
        """SIGTERM to all of it, up to ``TERM_GRACE_SECONDS`` to end, then SIGKILL to what is left."""
        if self.process is None:
            return
        self._signal_all(signal.SIGTERM)
        leftover = _still_alive(self.started_processes(), TERM_GRACE_SECONDS)
        if leftover or self.started_processes():
            log.warning("Airflow processes outlived SIGTERM by %.0f s: killing them", TERM_GRACE_SECONDS)
            self._signal_all(signal.SIGKILL)
        remaining = _still_alive(self.started_processes(), KILL_WAIT_SECONDS)
        if remaining:
            log.error("Airflow processes still alive after SIGKILL: %s", [process.pid for process in remaining])
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=0.5)

    def _signal_all(self, sig: signal.Signals) -> None:
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)
        for process in self.started_processes():
            try:
                process.send_signal(sig)
            except psutil.NoSuchProcess:
                continue
