"""The reference tool, ``@playcanvas/splat-transform``, installed from the npm registry on first use.

Each version goes in its own prefix under ``.local/`` so tests pinned to different releases do not
reinstall each other's; Node 20 runs it (3.10.2 asks for 22 in its ``engines`` field, and runs).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "@playcanvas/splat-transform"


def splat_transform_command(version: str, prefix: Path) -> list[str]:
    """The CLI of ``version`` as a command prefix (quiet, overwriting, on the CPU)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        raise RuntimeError("node and npm are required for the reference cross-check")
    cli = prefix / "node_modules" / "@playcanvas" / "splat-transform" / "bin" / "cli.mjs"
    installed = cli.parent.parent / "package.json"
    if not installed.is_file() or f'"version": "{version}"' not in installed.read_text():
        prefix.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--prefix", str(prefix), f"{PACKAGE}@{version}"],
            check=True,
            capture_output=True,
            timeout=300,
        )
    return [node, str(cli), "--quiet", "--overwrite", "--gpu", "cpu"]


def convert(command: list[str], source: Path, target: Path) -> None:
    result = subprocess.run([*command, str(source), str(target)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
