"""The names Airflow knows the pipeline by: its DAG ids and its task ids.

The DAG files give their DAGs and tasks these ids, and whatever looks a task up (an upstream
XCom, the failure email's "which step stopped", the viewer link's "has this run published")
takes the id from here instead of spelling it again.

Each stage is a task group of three tasks: its gate (does this run need the stage at all?), the
job request it builds, and the SageMaker job. Airflow prefixes a grouped task's id with its
group: the SfM job is ``sfm.job``.
"""

from __future__ import annotations

PIPELINE_DAG_ID = "splat_pipeline"
REPROCESS_DAG_ID = "splat_reprocess"

SFM = "sfm"
TRAIN = "train"
COMPRESS = "compress"
STAGES = (SFM, TRAIN, COMPRESS)
"""The SageMaker stages in pipeline order; each is also the id of its task group."""
GATE = "gate"
REQUEST = "request"
JOB = "job"

VALIDATE = "validate"
WAIT_FOR_INPUT = "wait_for_input"
PUBLISH = "publish"

DELIVER = "deliver"
"""The result email."""
ON_FAILURE = "on_failure"
"""The failure email's task group, which also keeps a failed run red."""
SEND_EMAIL = "send_email"
FAIL_RUN = "fail_run"

FIND_DUE = "find_due_submissions"
RERUN = "rerun"


def in_group(group: str, task: str) -> str:
    """The id Airflow gives ``task`` inside task group ``group``."""
    return f"{group}.{task}"


def stage_job(stage: str) -> str:
    """The task id of a stage's SageMaker job: its XCom holds the job's description."""
    return in_group(stage, JOB)


STEP_OF_TASK: dict[str, str] = {
    VALIDATE: VALIDATE,
    WAIT_FOR_INPUT: WAIT_FOR_INPUT,
    **{in_group(stage, task): stage for stage in STAGES for task in (GATE, REQUEST, JOB)},
    PUBLISH: PUBLISH,
    DELIVER: PUBLISH,
}
"""Each task of the main line, in pipeline order, with the step a user knows it by: the first
failed task is the one the failure email names."""
