"""The Airflow configuration for running this project's DAGs on one machine (SQLite, standalone)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from splatflow.pipeline.settings import PipelineSettings

REPO_ROOT = Path(__file__).resolve().parents[3]


def airflow_environment(state_dir: Path, api_port: int = 8080) -> dict[str, str]:
    """Variables that give Airflow its own home under the state folder and this project's DAGs.

    The virtual environment's ``bin`` goes first on ``PATH``: ``airflow standalone`` starts its
    components as ``airflow …`` subprocesses, found by name.
    """
    return {
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        "AIRFLOW_HOME": str((state_dir / "airflow").resolve()),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        # Loopback only, like the runtime; task processes reach the API server at the same port.
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
    }


def prepare_airflow(environment: dict[str, str]) -> None:
    """Create or upgrade the metadata database and the GPU-training pool the DAG uses."""
    airflow = str(Path(sys.executable).with_name("airflow"))
    subprocess.run([airflow, "db", "migrate"], env=environment, check=True, capture_output=True)
    settings = PipelineSettings.from_environment(environment)
    subprocess.run(
        [airflow, "pools", "set", settings.gpu_pool, str(settings.gpu_pool_slots), "GPU training jobs (quota)"],
        env=environment,
        check=True,
        capture_output=True,
    )
