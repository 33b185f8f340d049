"""constraints.txt installs on every Python the project says it runs on, the oldest included.

pyproject.toml's ``requires-python`` admits Python 3.11.0 and later; Debian bookworm's Python
(3.11.2) is one of them, and the stand-in base images are built on it. A pin whose release needs a
newer patch level (soupsieve 4.1.2 needs 3.11.5) makes pip backtrack for many minutes and then
fail on those Pythons, so pip itself checks every pin against the oldest admitted version.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

REPO_ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow  # asks the package index about every pin


def oldest_supported_python() -> str:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    admitted = SpecifierSet(project["requires-python"])
    minor = min(int(spec.version.split(".")[1]) for spec in admitted if spec.operator in {">=", "~=", "=="})
    version = f"3.{minor}.0"
    assert version in admitted, f"requires-python {admitted} does not admit {version}"
    return version


def test_every_pin_has_a_release_for_the_oldest_python_the_project_supports() -> None:
    python = oldest_supported_python()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--no-deps",
            "--ignore-installed",
            "--python-version",
            python,
            "-r",
            str(REPO_ROOT / "constraints.txt"),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    errors = [line for line in result.stderr.splitlines() if "No matching distribution" in line]
    assert result.returncode == 0 and not errors, (
        f"pins with no release for Python {python}: {errors or result.stderr[-2000:]}"
    )
