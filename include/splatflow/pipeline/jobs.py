"""Finding a run's SageMaker jobs by the stem of their names.

A task retry gets a new job name (the stem plus a timestamp), so "the job of this stage" means
the newest job whose name contains the stem.
"""

from __future__ import annotations

from typing import Any, Literal

JobKind = Literal["processing", "training"]

STAGE_JOB_KINDS: dict[str, JobKind] = {"sfm": "processing", "train": "training", "compress": "processing"}
"""The pipeline's SageMaker stages (also their task ids) and the kind of job each runs."""


def newest_job(sagemaker: Any, kind: JobKind, name_stem: str) -> dict[str, Any] | None:
    """The Describe response of the newest job whose name contains ``name_stem``, or None."""
    noun = f"{kind.capitalize()}Job"
    listing = getattr(sagemaker, f"list_{kind}_jobs")(
        NameContains=name_stem, SortBy="CreationTime", SortOrder="Descending", MaxResults=1
    )
    summaries = listing[f"{noun}Summaries"]
    if not summaries:
        return None
    description: dict[str, Any] = getattr(sagemaker, f"describe_{kind}_job")(
        **{f"{noun}Name": summaries[0][f"{noun}Name"]}
    )
    return description
