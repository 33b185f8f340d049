"""Fixtures shared by every test folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from filelock import FileLock

from splatflow.local.containers.engine import Engine, container_engine
from splatflow.local.containers.images import StageImage, build_stage_images, missing_images, stage_images
from splatflow.pipeline.settings import PipelineSettings

REPO_ROOT = Path(__file__).resolve().parent.parent

# Airflow reads its configuration once, at import: give the whole session its own home (SQLite),
# this project's DAGs, and no examples, before any test module imports airflow.
os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="splatflow-airflow-")
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO_ROOT / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(REPO_ROOT / "plugins")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"


def shared_folder(tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """A folder every pytest-xdist worker of this run shares (this process's own when there are none),
    for work done once per run: the parent of the workers' temporary folders."""
    base = tmp_path_factory.getbasetemp()
    folder = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def airflow_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated metadata database for tests that run DAGs (``dag.test()``) or the API server.

    The migration (a minute on two busy cores) runs once per test run into a shared template, and
    each process of the run (each pytest-xdist worker has its own ``AIRFLOW_HOME``) gets a copy.
    """
    home = Path(os.environ["AIRFLOW_HOME"])
    shared = shared_folder(tmp_path_factory, "airflow-db")
    template = shared / "airflow.db"
    with FileLock(shared / "lock"):
        if not template.exists():
            environment = {
                **os.environ,
                "AIRFLOW_HOME": str(shared),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{template}",
            }
            airflow = Path(sys.executable).with_name("airflow")
            subprocess.run([str(airflow), "db", "migrate"], check=True, capture_output=True, env=environment)
    copy = home / "airflow.db.copy"
    shutil.copyfile(template, copy)
    copy.replace(home / "airflow.db")
    return home


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
def built_stage_images(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> list[StageImage]:
    """The three stage images, built from their Dockerfiles as ``python -m splatflow.local images`` builds
    them: once per test run, by whichever process needs them first (the others wait for it)."""
    images = stage_images(REPO_ROOT, PipelineSettings())
    shared = shared_folder(tmp_path_factory, "stage-images")
    with FileLock(shared / "lock"):
        built_by_this_run = shared / "built"
        if not built_by_this_run.exists() or missing_images(engine, images):
            build_stage_images(engine, REPO_ROOT, images)
            built_by_this_run.touch()
    return images


def _declared_seconds(item: pytest.Item) -> float:
    """The wall time a test may take: its ``timeout`` mark, else the run's ``--timeout``."""
    mark = item.get_closest_marker("timeout")
    if mark is not None and mark.args:
        return float(mark.args[0])
    return float(item.config.getoption("timeout") or 0)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the longest test files first, so no end-to-end file starts near the end of a parallel run.

    pytest-xdist hands out whole files in this order (``--dist loadfile --no-loadscope-reorder``;
    its own reordering, by number of tests, put the few-test end-to-end files last, where one of
    them alone set the suite's wall time). A file's expected length is read from its marks: ``slow``
    files before the rest, then by the longest ``timeout`` one of its tests declares. Files stay
    whole, and keep their collected order among equals.
    """
    files: dict[str, list[pytest.Item]] = {}
    for item in items:
        files.setdefault(item.nodeid.split("::", 1)[0], []).append(item)

    def expected_length(tests: list[pytest.Item]) -> tuple[bool, float]:
        slow = any(test.get_closest_marker("slow") for test in tests)
        return (not slow, -max(_declared_seconds(test) for test in tests))

    items[:] = [item for tests in sorted(files.values(), key=expected_length) for item in tests]
