"""Why a run's Splat tab has no splat to show, and what to do, in the user's words.

The tab opens on every run, also one that failed, one still running, and one whose files are
gone: ``make up`` keeps local S3 in memory, so a restart loses every run's objects while
Airflow's database still lists the run as published. Airflow's records (the run's state and its
``publish`` task's) tell these apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from airflow.models.dagrun import DagRun
from airflow.models.taskinstance import TaskInstance
from airflow.utils.session import create_session
from airflow.utils.state import DagRunState, TaskInstanceState
from sqlalchemy import select

from splatflow.pipeline.ids import ON_FAILURE, PUBLISH
from splatflow.viewer_plugin.link import publish_state


@dataclass(frozen=True)
class RunRecord:
    """What Airflow's database says of a run: its state and its ``publish`` task's (None: no such row)."""

    run_state: str | None
    publish_state: str | None
    failed_step: str | None = None
    """The first task that failed, other than the failure email's."""


@dataclass(frozen=True)
class NoSplat:
    title: str
    reason: str
    advice: str


def run_record(dag_id: str, run_id: str) -> RunRecord:
    with create_session() as session:
        run_state = session.scalar(select(DagRun.state).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
        published = publish_state(session, dag_id, run_id)
        failed_step = session.scalar(
            select(TaskInstance.task_id)
            .where(
                TaskInstance.dag_id == dag_id,
                TaskInstance.run_id == run_id,
                TaskInstance.state == TaskInstanceState.FAILED,
                TaskInstance.task_id != ON_FAILURE,
            )
            .order_by(TaskInstance.end_date)
            .limit(1)
        )
    return RunRecord(run_state=run_state, publish_state=published, failed_step=failed_step)


def explain_no_splat(record: RunRecord, run_id: str) -> NoSplat:
    """The notice for a run whose published splat is not in the work bucket."""
    if record.run_state is None:
        return NoSplat(
            "There is no such run",
            f"Airflow has no run '{run_id}' of splat_pipeline.",
            "Open the run from the DAG's list of runs; its Splat tab shows the splat once the run has finished.",
        )
    if record.publish_state == TaskInstanceState.SUCCESS:
        return NoSplat(
            "This run's splat is gone",
            "The run published a splat, but its files are no longer in the work bucket. make up keeps its "
            "local S3 in memory, so stopping it loses every run's files; in AWS they were deleted or expired.",
            "Trigger the run again with the same photos to make them again.",
        )
    if record.run_state in (DagRunState.QUEUED, DagRunState.RUNNING):
        return NoSplat(
            "The splat is not ready yet",
            f"The run is still going: the splat appears here when its {PUBLISH} step has finished.",
            "Reload this tab when the run has finished; the email with the links arrives then too.",
        )
    if record.run_state == DagRunState.FAILED:
        return NoSplat(
            "This run failed before it published a splat",
            (f"Its {record.failed_step} step failed" if record.failed_step else "A step of the run failed")
            + ", so nothing was published.",
            f"The failure email, and the log of the run's {ON_FAILURE} task, name the step and the reason. "
            "Fix what they say and trigger the run again.",
        )
    return NoSplat(
        "This run published no splat",
        f"The run ended ({record.run_state}) without its {PUBLISH} step.",
        "Trigger a run whose steps end in a splat (full, train_and_compress or compress_only).",
    )
