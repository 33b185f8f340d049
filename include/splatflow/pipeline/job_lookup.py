"""Finding a run's SageMaker jobs by the stem of their names.

A task retry gets a new job name (the stem plus a timestamp), so "the job of this stage" means
the newest job whose name contains the stem.

Clearing a run in Airflow starts a new generation of it (``clear_number``): its jobs carry
``-c<generation>`` after the stem, so a retry can tell the jobs of its own generation, which it
may take over, from those of an earlier one, which a user asked to redo.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

JobKind = Literal["processing", "training"]

STAGE_JOB_KINDS: dict[str, JobKind] = {"sfm": "processing", "train": "training", "compress": "processing"}
"""The pipeline's SageMaker stages (``ids.STAGES``) and the kind of job each runs."""


def container_reason(description: Mapping[str, Any]) -> str:
    """The failure line a job's container left, from its Describe response.

    A Training job reports ``/opt/ml/output/failure`` as its ``FailureReason``. A Processing job
    reports ``/opt/ml/output/message`` as its ``ExitMessage`` and only a fixed line
    (``AlgorithmError: See job logs for more information``) as its ``FailureReason``, so the stage's
    words are read there; a job that failed before its container ran has only a ``FailureReason``.
    """
    if "ProcessingJobName" in description and description.get("ExitMessage"):
        return str(description["ExitMessage"]).strip()
    return str(description.get("FailureReason") or "")


MAX_GENERATION = 9999
"""``-c9999`` is the longest generation suffix the job-name budget leaves room for."""


def generation_name(name_stem: str, clear_number: int) -> str:
    """The job name stem for a run's ``clear_number``-th generation (the stem itself for the first)."""
    if not 0 <= clear_number <= MAX_GENERATION:
        raise ValueError(f"a run can be cleared at most {MAX_GENERATION} times; this is clear {clear_number}")
    return f"{name_stem}-c{clear_number}" if clear_number else name_stem


def newest_job(
    sagemaker: Any, kind: JobKind, name_stem: str, *, same_generation: bool = False
) -> dict[str, Any] | None:
    """The Describe response of the newest job whose name contains ``name_stem``, or None.

    With ``same_generation``, only the stem's own jobs count: the stem itself or the stem with a
    retry's timestamp, not ``<stem>-c<n>`` of a later generation.
    """
    noun = f"{kind.capitalize()}Job"
    own_name = re.compile(rf"{re.escape(name_stem)}(-[0-9]+)?")
    listing = getattr(sagemaker, f"list_{kind}_jobs")(
        NameContains=name_stem, SortBy="CreationTime", SortOrder="Descending", MaxResults=100 if same_generation else 1
    )
    names = [summary[f"{noun}Name"] for summary in listing[f"{noun}Summaries"]]
    if same_generation:
        names = [name for name in names if own_name.fullmatch(name)]
    if not names:
        return None
    description: dict[str, Any] = getattr(sagemaker, f"describe_{kind}_job")(**{f"{noun}Name": names[0]})
    return description
