"""The names Airflow knows the pipeline by: its DAG ids and its task ids.

The DAG files give their DAGs and tasks these ids, and whatever looks a task up (the failure
email's "which step stopped", the viewer link's "has this run published") takes the id from here
instead of spelling it again.

``splat_pipeline`` has one task per step of the README's diagram: each SageMaker stage is one
task (its operator decides whether this run needs the stage, builds the job request and runs the
job), so the task id of a stage is the stage's name.
"""

from __future__ import annotations

PIPELINE_DAG_ID = "splat_pipeline"
REPROCESS_DAG_ID = "splat_reprocess"

SFM = "sfm"
TRAIN = "train"
COMPRESS = "compress"
STAGES = (SFM, TRAIN, COMPRESS)
"""The SageMaker stages in pipeline order; each is also the id of its task."""

VALIDATE = "validate"
WAIT_FOR_INPUT = "wait_for_input"
PUBLISH = "publish"

DELIVER = "deliver"
"""The result email."""
ON_FAILURE = "on_failure"
"""The failure email, which then fails itself to keep the run red."""

FIND_DUE = "find_due_submissions"
RERUN = "rerun"

STEP_OF_TASK: dict[str, str] = {
    VALIDATE: VALIDATE,
    WAIT_FOR_INPUT: WAIT_FOR_INPUT,
    **{stage: stage for stage in STAGES},
    PUBLISH: PUBLISH,
    DELIVER: PUBLISH,
}
"""Each task of the main line, in pipeline order, with the step a user knows it by: the first
failed task is the one the failure email names."""
