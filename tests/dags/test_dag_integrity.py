"""Every DAG in dags/ imports cleanly, fast, with owner, tags, docs and retries (Astronomer style)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from airflow.models.dagbag import DagBag
from airflow.sdk import DAG

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"
MAX_PARSE_SECONDS = 2.0
NO_RETRY_TASKS = {
    "validate": "bad input does not fix itself; a retry would only delay the failure email",
    "wait_for_input": "the sensor has its own bounded timeout",
    "fail_run": "it exists to fail: it marks a run red after its failure email",
}


@pytest.fixture(scope="module")
def dag_bag() -> DagBag:
    return DagBag(dag_folder=str(DAGS_FOLDER))


def _dags(dag_bag: DagBag) -> dict[str, DAG]:
    assert dag_bag.dags, "dags/ should hold at least one DAG"
    return dict(dag_bag.dags)


def test_no_import_errors(dag_bag: DagBag) -> None:
    assert dag_bag.import_errors == {}
    assert _dags(dag_bag)


def test_every_file_parses_quickly(dag_bag: DagBag) -> None:
    stats = dag_bag.dagbag_stats
    assert stats, "no parse statistics were recorded"
    for stat in stats:
        duration = stat.duration.total_seconds() if isinstance(stat.duration, timedelta) else stat.duration
        assert duration < MAX_PARSE_SECONDS, f"{stat.file} took {duration:.2f} s to parse"


def test_every_dag_has_owner_tags_docs_and_retries(dag_bag: DagBag) -> None:
    for dag_id, dag in _dags(dag_bag).items():
        assert dag.tags, f"{dag_id} has no tags"
        assert dag.doc_md, f"{dag_id} has no doc_md"
        assert dag.default_args.get("owner") not in (None, "airflow"), f"{dag_id} has no owner"
        assert dag.default_args.get("retries", 0) >= 2, f"{dag_id} retries fewer than 2 times"


def test_every_task_retries_unless_retrying_cannot_help(dag_bag: DagBag) -> None:
    for dag_id, dag in _dags(dag_bag).items():
        for task in dag.tasks:
            if task.task_id in NO_RETRY_TASKS:
                continue
            assert (task.retries or 0) >= 2, f"{dag_id}.{task.task_id} retries {task.retries} times"
            assert task.retry_exponential_backoff, f"{dag_id}.{task.task_id} retries without backoff"
