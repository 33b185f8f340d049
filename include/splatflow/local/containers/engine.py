"""The container engine local jobs run under: a Docker engine that answers, or Podman serving Docker's API.

The job runner drives containers with the ``docker`` command line, as a developer's laptop with
Docker would. Where no Docker engine runs (CI, most sandboxes), Podman from Debian's packages
serves the same API (``podman system service``) on a socket of our own, started with the
project's ``containers.conf`` instead of the machine's ``/etc`` settings, and ``DOCKER_HOST``
points the ``docker`` client at it.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

log = logging.getLogger(__name__)

CONTAINERS_CONF = Path(__file__).with_name("containers.conf")
"""Podman's settings for this project (runc, cgroupfs, no default ulimits); see the file."""

INSTALL_HINT = "`make engine` installs Podman from Debian's packages; or start a Docker engine"


class EngineUnavailableError(RuntimeError):
    """No container engine can run the jobs; the message says how to get one."""


@dataclass(frozen=True)
class Engine:
    """A Docker API endpoint, and which engine answers on it."""

    kind: Literal["docker", "podman"]
    docker_host: str | None
    """``DOCKER_HOST`` for the ``docker`` client; None keeps the client's own default."""

    def client_environment(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment a ``docker`` command needs to reach this engine."""
        environment = dict(os.environ if base is None else base)
        if self.docker_host:
            environment["DOCKER_HOST"] = self.docker_host
        return environment


def podman_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment every ``podman`` command of ours runs with: the project's settings file."""
    return {**(os.environ if base is None else base), "CONTAINERS_CONF": str(CONTAINERS_CONF)}


def docker_answers(environment: Mapping[str, str]) -> bool:
    """True when the ``docker`` client reaches an engine with this environment."""
    if shutil.which("docker") is None:
        return False
    try:
        result = subprocess.run(
            ["docker", "version", "--format", "{{.Server.Version}}"],
            capture_output=True,
            timeout=15,
            check=False,
            env=dict(environment),
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


class PodmanService:
    """``podman system service`` on a unix socket, for as long as the context lasts."""

    def __init__(self, socket_path: Path, start_timeout_seconds: float = 30.0) -> None:
        self.socket_path = socket_path.resolve()
        self.start_timeout_seconds = start_timeout_seconds
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def engine(self) -> Engine:
        return Engine("podman", f"unix://{self.socket_path}")

    @property
    def log_file(self) -> Path:
        return self.socket_path.with_suffix(".log")

    def start(self) -> Engine:
        self.socket_path.parent.mkdir(parents=True, exist_ok=True)
        with suppress(FileNotFoundError):
            self.socket_path.unlink()
        with self.log_file.open("wb") as log_output:
            # --time=0: serve until stopped, not just five seconds past the last request.
            self._process = subprocess.Popen(
                ["podman", "system", "service", "--time=0", f"unix://{self.socket_path}"],
                env=podman_environment(),
                stdout=log_output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        engine = self.engine
        deadline = time.monotonic() + self.start_timeout_seconds
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                break
            if self.socket_path.exists() and docker_answers(engine.client_environment()):
                log.info("Podman serves Docker's API on %s", engine.docker_host)
                return engine
            time.sleep(0.2)
        self.stop()
        tail = self.log_file.read_text(encoding="utf-8", errors="replace")[-2000:]
        raise EngineUnavailableError(f"podman system service did not answer on {self.socket_path}: {tail}")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def container_engine(state_dir: Path) -> Iterator[Engine]:
    """A Docker engine that already answers, else Podman serving Docker's API until the context ends."""
    if docker_answers(os.environ):
        yield Engine("docker", os.environ.get("DOCKER_HOST"))
        return
    if shutil.which("docker") is None:
        raise EngineUnavailableError(f"the `docker` client is not installed ({INSTALL_HINT})")
    if shutil.which("podman") is None:
        raise EngineUnavailableError(f"no container engine answers and Podman is not installed ({INSTALL_HINT})")
    service = PodmanService(state_dir / "podman" / "podman.sock")
    engine = service.start()
    try:
        yield engine
    finally:
        service.stop()
