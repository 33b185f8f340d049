"""Mark the runs a stopped local stack left queued or running as failed, in Airflow's metadata database.

Once ``up`` has stopped Airflow's processes, nothing will finish those runs, and the embedded
runtime's S3 (in memory) that they read goes with it: left as they are, they would show as
running forever, or restart on the next ``up`` against empty buckets. Each is set failed the way
the UI's "mark failed" does it (``set_dag_run_state_to_failed``: its running tasks failed, those
not started skipped).

Run as ``python -m splatflow.local.unfinished_runs`` with the stack's Airflow environment, after
its processes are gone: Airflow reads its configuration (the database) once, at import.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def fail_unfinished_runs() -> list[str]:
    """The ids of the runs set failed (``dag_id/run_id``)."""
    from airflow.api.common.mark_tasks import set_dag_run_state_to_failed
    from airflow.models.dagbag import DBDagBag
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState
    from sqlalchemy import select

    failed = []
    with create_session() as session:
        unfinished = select(DagRun).where(DagRun.state.in_([DagRunState.RUNNING, DagRunState.QUEUED]))
        dag_bag = DBDagBag()
        for run in session.scalars(unfinished).all():
            dag = dag_bag.get_dag_for_run(run, session=session)
            if dag is not None:
                set_dag_run_state_to_failed(dag=dag, run_id=run.run_id, commit=True, session=session)
            # That function leaves a run with a teardown task pending running: nothing will run it now.
            run.set_state(DagRunState.FAILED)
            failed.append(f"{run.dag_id}/{run.run_id}")
    return failed


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    failed = fail_unfinished_runs()
    log.info("runs the stopped stack left unfinished, now failed: %s", ", ".join(failed) or "none")


if __name__ == "__main__":
    main()
