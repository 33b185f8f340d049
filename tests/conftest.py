"""Fixtures shared by every test folder."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from splatflow.local.containers.engine import Engine, container_engine
from splatflow.local.containers.images import BuiltImage, build_stage_images, stage_images
from splatflow.pipeline.settings import PipelineSettings

REPO_ROOT = Path(__file__).resolve().parent.parent

# Airflow reads its configuration once, at import: give the whole session its own home (SQLite),
# this project's DAGs, and no examples, before any test module imports airflow.
os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="splatflow-airflow-")
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO_ROOT / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(REPO_ROOT / "plugins")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """A migrated metadata database for tests that run DAGs (``dag.test()``) or the API server."""
    airflow = Path(sys.executable).with_name("airflow")
    subprocess.run([str(airflow), "db", "migrate"], check=True, capture_output=True)
    return Path(os.environ["AIRFLOW_HOME"])


@pytest.fixture(scope="session")
def datasets_dir() -> Path:
    """The shared photo sets (``../shared/datasets``, or ``SPLATFLOW_DATASETS``).

    CI always has them beside the checkout, so their absence is an error, not a skip.
    """
    path = Path(os.environ.get("SPLATFLOW_DATASETS", REPO_ROOT.parent / "shared" / "datasets"))
    if not (path / "opensfm_lund" / "images").is_dir():
        raise FileNotFoundError(f"shared datasets not found at {path}; set SPLATFLOW_DATASETS")
    return path


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """The container engine the image tests run under: Docker if one answers, else Podman serving its API.

    ``make test`` installs Podman (``make engine``), so a missing engine is an error, not a skip.
    """
    with container_engine(tmp_path_factory.mktemp("engine")) as found:
        yield found


@pytest.fixture(scope="session")
def built_stage_images(engine: Engine) -> list[BuiltImage]:
    """The three stage images, built from their Dockerfiles as ``python -m splatflow.local images`` builds them."""
    return build_stage_images(engine, REPO_ROOT, stage_images(REPO_ROOT, PipelineSettings()))
