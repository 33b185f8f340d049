"""Every DAG in dags/ imports cleanly, fast, with owner, tags, docs and retries (Astronomer style), and
``splat_pipeline`` reads as a table of contents: one line of steps, one task per step."""

from __future__ import annotations

import itertools
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from airflow.models.dagbag import DagBag
from airflow.providers.smtp.operators.smtp import EmailOperator
from airflow.providers.standard.operators.branch import BranchMixIn
from airflow.providers.standard.operators.python import ShortCircuitOperator
from airflow.sdk import DAG, TriggerRule

from splatflow.pipeline import ids
from splatflow.pipeline.operators import CompressOperator, SfmOperator, TrainingOperator

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"
MAX_PARSE_SECONDS = 2.0
NO_RETRY_TASKS = {
    ids.WAIT_FOR_INPUT: "the sensor has its own bounded timeout",
}
PIPELINE_STEPS = [ids.VALIDATE, ids.WAIT_FOR_INPUT, *ids.STAGES, ids.PUBLISH, ids.DELIVER, ids.ON_FAILURE]
"""``splat_pipeline``'s tasks in the order they run: the steps of the README's diagram."""
DATA_EDGES = {
    ids.SFM: {ids.VALIDATE},
    ids.TRAIN: {ids.VALIDATE},
    ids.COMPRESS: {ids.VALIDATE, ids.TRAIN},
    ids.PUBLISH: {ids.VALIDATE, *ids.STAGES},
    ids.DELIVER: {ids.VALIDATE},
    ids.ON_FAILURE: {ids.VALIDATE},
}
"""What each task takes as arguments from earlier steps, besides following the step before it."""


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


def test_every_task_is_in_its_dags_doc_table(dag_bag: DagBag) -> None:
    for dag_id, dag in _dags(dag_bag).items():
        assert dag.doc_md is not None
        rows = [line for line in dag.doc_md.splitlines() if line.startswith("| `")]
        for task in dag.tasks:
            assert any(f"`{task.task_id}`" in row for row in rows), f"{dag_id}.{task.task_id} is not in doc_md's table"


def test_the_pipeline_is_one_line_of_steps_with_failure_handling_at_its_end(dag_bag: DagBag) -> None:
    dag = _dags(dag_bag)[ids.PIPELINE_DAG_ID]
    assert [task.task_id for task in dag.topological_sort()] == PIPELINE_STEPS
    assert not dag.task_group_dict, "a step is one task, not a group"
    for before, after in itertools.pairwise(PIPELINE_STEPS):
        upstream = dag.get_task(after).upstream_task_ids
        assert upstream == {before} | DATA_EDGES.get(after, set()), f"{after} should follow {before}"
    assert dag.get_task(PIPELINE_STEPS[0]).upstream_task_ids == set()
    # A failure anywhere fails every task after it, so one edge into the failure email is enough.
    assert dag.get_task(ids.ON_FAILURE).trigger_rule == TriggerRule.ONE_FAILED


def test_each_stage_is_one_sagemaker_task_that_runs_after_a_skipped_stage(dag_bag: DagBag) -> None:
    dag = _dags(dag_bag)[ids.PIPELINE_DAG_ID]
    jobs: dict[str, type] = {ids.SFM: SfmOperator, ids.TRAIN: TrainingOperator, ids.COMPRESS: CompressOperator}
    for stage, operator in jobs.items():
        task = dag.get_task(stage)
        assert isinstance(task, operator)
        assert task.trigger_rule == TriggerRule.NONE_FAILED
    assert dag.get_task(ids.PUBLISH).trigger_rule == TriggerRule.NONE_FAILED


def test_both_emails_go_out_through_the_email_operator(dag_bag: DagBag) -> None:
    dag = _dags(dag_bag)[ids.PIPELINE_DAG_ID]
    for task_id in (ids.DELIVER, ids.ON_FAILURE):
        assert isinstance(dag.get_task(task_id), EmailOperator)


def test_tasks_skip_by_raising_never_by_short_circuit_or_branch(dag_bag: DagBag) -> None:
    for dag_id, dag in _dags(dag_bag).items():
        for task in dag.tasks:
            assert not isinstance(task, ShortCircuitOperator | BranchMixIn), f"{dag_id}.{task.task_id}"


@pytest.mark.parametrize(("value", "schedule"), [(None, "@daily"), ("none", None)])
def test_batch_reprocessing_starts_runs_on_its_own_only_when_scheduled(
    monkeypatch: pytest.MonkeyPatch, value: str | None, schedule: str | None
) -> None:
    if value is None:
        monkeypatch.delenv("SPLATFLOW_REPROCESS_SCHEDULE", raising=False)
    else:
        monkeypatch.setenv("SPLATFLOW_REPROCESS_SCHEDULE", value)
    dag = DagBag(dag_folder=str(DAGS_FOLDER / "splat_reprocess.py")).dags[ids.REPROCESS_DAG_ID]
    assert dag.schedule == schedule


def test_unreadable_stage_settings_leave_the_dags_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    """A JSON typo in a stage's settings fails the runs at ``validate``, with an email; the DAGs still load."""
    monkeypatch.setenv("SPLATFLOW_TRAIN_HYPERPARAMETERS", '{"max_steps": 7000')
    bag = DagBag(dag_folder=str(DAGS_FOLDER))
    assert bag.import_errors == {}
    assert ids.PIPELINE_DAG_ID in bag.dags


def _marked_required_by_the_form(schema: dict[str, Any]) -> bool:
    """The trigger form's rule (Airflow 3.3.2's UI, ``FlexibleForm``): a param whose type does not allow
    null is shown with the required asterisk, and refused when emptied."""
    kind = schema.get("type")
    return bool(kind) and (not isinstance(kind, list) or "null" not in kind)


def test_the_trigger_form_marks_as_required_exactly_the_email(dag_bag: DagBag) -> None:
    """Every run needs an address; the photos only a full run, so they are not marked, and a run that
    reuses an earlier output can still be triggered from the form."""
    params = _dags(dag_bag)[ids.PIPELINE_DAG_ID].params
    marked = {name for name in params if _marked_required_by_the_form(params.get_param(name).schema)}
    assert marked == {"email"}


def test_the_form_keeps_what_a_first_run_leaves_alone_in_a_section_of_its_own(dag_bag: DagBag) -> None:
    params = _dags(dag_bag)[ids.PIPELINE_DAG_ID].params
    sections = {name: params.get_param(name).schema.get("section") for name in params}
    assert {name for name, section in sections.items() if section is None} == {"s3_url", "email", "preset"}
