"""The "View splat" link on the pipeline's tasks, shown once the run has published its splat.

It opens the run's **Splat** tab, where the viewer shows inside Airflow's page. Airflow's UI
decides where an extra link opens from its address alone: one on Airflow's own origin opens in
the same tab, one elsewhere in a new tab (apache/airflow#64404, no per-link setting). A link to
the bare viewer page, on Airflow's origin, therefore replaced the Airflow tab with it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

from airflow.configuration import conf
from airflow.models.taskinstance import TaskInstance
from airflow.sdk import BaseOperatorLink
from airflow.utils.session import create_session
from airflow.utils.state import TaskInstanceState
from sqlalchemy import select
from sqlalchemy.orm import Session

from splatflow.pipeline.ids import PIPELINE_DAG_ID, PUBLISH

VIEWER_URL_PREFIX = "/splat-viewer"
"""Where the plugin mounts the viewer app on the Airflow API server."""
SPLAT_TAB_ROUTE = "splat"
"""The ``url_route`` of the plugin's run tab: Airflow's UI shows it at ``…/runs/<run>/plugin/splat``."""


def splat_tab_path(dag_id: str, run_id: str) -> str:
    """The run's Splat tab in Airflow's UI, under the API server's base URL (Airflow may live under a path)."""
    root = urlsplit(conf.get("api", "base_url", fallback="") or "").path.rstrip("/")
    return f"{root}/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}/plugin/{SPLAT_TAB_ROUTE}"


def publish_state(session: Session, dag_id: str, run_id: str) -> str | None:
    """The state of the run's ``publish`` task (None: the run has no such task instance)."""
    state: str | None = session.scalar(
        select(TaskInstance.state).where(
            TaskInstance.dag_id == dag_id,
            TaskInstance.run_id == run_id,
            TaskInstance.task_id == PUBLISH,
            TaskInstance.map_index == -1,
        )
    )
    return state


def run_has_published(dag_id: str, run_id: str) -> bool:
    with create_session() as session:
        state = publish_state(session, dag_id, run_id)
    return bool(state == TaskInstanceState.SUCCESS)


class ViewSplatLink(BaseOperatorLink):
    """On every task of a ``splat_pipeline`` run whose ``publish`` task succeeded, to its Splat tab;
    empty elsewhere."""

    name = "View splat"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        if ti_key.dag_id != PIPELINE_DAG_ID or not run_has_published(ti_key.dag_id, ti_key.run_id):
            return ""
        return splat_tab_path(ti_key.dag_id, ti_key.run_id)
