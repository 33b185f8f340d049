"""The "View splat" link on the pipeline's tasks, shown once the run has published its splat."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

from airflow.configuration import conf
from airflow.models.taskinstance import TaskInstance
from airflow.sdk import BaseOperatorLink
from airflow.utils.session import create_session
from airflow.utils.state import TaskInstanceState
from sqlalchemy import select

from splatflow.pipeline.ids import PIPELINE_DAG_ID, PUBLISH

VIEWER_URL_PREFIX = "/splat-viewer"
"""Where the plugin mounts the viewer app on the Airflow API server."""


def viewer_path(dag_id: str, run_id: str) -> str:
    """The viewer page of a run, under the API server's base URL (Airflow may live under a path)."""
    root = urlsplit(conf.get("api", "base_url", fallback="") or "").path.rstrip("/")
    return f"{root}{VIEWER_URL_PREFIX}/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}/"


def run_has_published(dag_id: str, run_id: str) -> bool:
    with create_session() as session:
        state = session.scalar(
            select(TaskInstance.state).where(
                TaskInstance.dag_id == dag_id,
                TaskInstance.run_id == run_id,
                TaskInstance.task_id == PUBLISH,
                TaskInstance.map_index == -1,
            )
        )
    return bool(state == TaskInstanceState.SUCCESS)


class ViewSplatLink(BaseOperatorLink):
    """On every task of a ``splat_pipeline`` run whose ``publish`` task succeeded; empty elsewhere."""

    name = "View splat"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        if ti_key.dag_id != PIPELINE_DAG_ID or not run_has_published(ti_key.dag_id, ti_key.run_id):
            return ""
        return viewer_path(ti_key.dag_id, ti_key.run_id)
