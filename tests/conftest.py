"""Fixtures shared by every test folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def datasets_dir() -> Path:
    """The shared photo sets (``../shared/datasets``, or ``SPLATFLOW_DATASETS``).

    CI always has them beside the checkout, so their absence is an error, not a skip.
    """
    path = Path(os.environ.get("SPLATFLOW_DATASETS", REPO_ROOT.parent / "shared" / "datasets"))
    if not (path / "opensfm_lund" / "images").is_dir():
        raise FileNotFoundError(f"shared datasets not found at {path}; set SPLATFLOW_DATASETS")
    return path
