"""The Airflow configuration for running this project's DAGs on one machine (SQLite, one machine)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from splatflow.pipeline.settings import PipelineSettings

REPO_ROOT = Path(__file__).resolve().parents[3]


def local_parallelism() -> int:
    """Task processes at once on this machine: two per core, at least four."""
    return max(4, 2 * (os.cpu_count() or 2))


def airflow_environment(state_dir: Path, api_port: int = 8080) -> dict[str, str]:
    """Variables that give Airflow its own home under the state folder and this project's DAGs.

    The virtual environment's ``bin`` goes first on ``PATH``: Airflow's processes
    run ``airflow …`` found by name.

    Parallelism is sized to the machine: at Airflow's default of 32, twenty submissions at once
    on two cores started 20 task processes together, their API calls timed out, and the
    scheduler died on SQLite's "database is locked" (``tests/dags/test_splat_pipeline_load.py``).
    """
    return {
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        "AIRFLOW_HOME": str((state_dir / "airflow").resolve()),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__PARALLELISM": str(local_parallelism()),
        # Loopback only, like the runtime; task processes reach the API server at the same port.
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        # What ``airflow standalone`` would force: tasks on this machine, Airflow's own login.
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        # The log servers listen on loopback (``airflow_processes``): tasks record it as their host.
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "splatflow.local.net.loopback_host",
    }


def prepare_airflow(environment: dict[str, str]) -> None:
    """Create or upgrade the metadata database and the GPU-training pool the DAG uses.

    The pool counts deferred tasks: the training task waits for its job deferred, and a pool
    that counted only running tasks would free the slot while the GPU job runs.
    """
    airflow = str(Path(sys.executable).with_name("airflow"))
    subprocess.run([airflow, "db", "migrate"], env=environment, check=True, capture_output=True)
    settings = PipelineSettings.from_environment(environment)
    subprocess.run(
        [
            airflow,
            "pools",
            "set",
            settings.gpu_pool,
            str(settings.gpu_pool_slots),
            "GPU training jobs (quota)",
            "--include-deferred",
        ],
        env=environment,
        check=True,
        capture_output=True,
    )
