"""The Airflow configuration for running this project's DAGs on one machine (SQLite, standalone)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from splatflow.pipeline.settings import PipelineSettings

REPO_ROOT = Path(__file__).resolve().parents[3]


def airflow_environment(state_dir: Path) -> dict[str, str]:
    """Variables that give Airflow its own home under the state folder and this project's DAGs."""
    return {
        "AIRFLOW_HOME": str((state_dir / "airflow").resolve()),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
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
