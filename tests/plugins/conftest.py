"""The DAG tests' embedded runtime, for plugin tests that need a really finished run."""

from __future__ import annotations

import sys
from pathlib import Path

# tests/dags holds the runtime fixture the DAG tests share; it is not a package, so it is
# reached the way pytest reaches it for the tests next to it.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dags"))

from pipeline_support import pipeline_runtime

__all__ = ["pipeline_runtime"]
