"""Failure codes and the one-line reason a failed step leaves: ``<stage>: <CODE>: <the user's words>``.

A stage writes the line to ``/opt/ml/output/failure`` and ``/opt/ml/output/message``, which
SageMaker reports as a Training job's ``FailureReason`` and a Processing job's ``ExitMessage``
(``sfm: NO_OVERLAP: only 3 of 40 photos could be placed…``); the Airflow-side
steps leave the same line for the failure email. Whoever reads it parses it here and branches on
the code: the stage operators decide whether a retry can help, the failure email picks its
advice. The words are for the user and are shown as they are, never matched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

FAILURE_REASON_MAX_CHARS = 1024
"""SageMaker keeps the first 1024 characters (a KB) of the failure and message files."""


class FailureCode(StrEnum):
    """Why a step failed, in the few kinds the pipeline treats differently."""

    # The submission and its files: the same input fails the same way again.
    INVALID_SUBMISSION = "INVALID_SUBMISSION"
    """A submitted field is malformed or missing (the input check's refusal)."""
    BUCKET_NOT_ALLOWED = "BUCKET_NOT_ALLOWED"
    """The files are in a bucket the operator has not allowed, or none is allowed yet."""
    INPUT_MISSING = "INPUT_MISSING"
    """The file to process is not there (or the job's input is empty)."""
    NOT_AN_ARCHIVE = "NOT_AN_ARCHIVE"
    """The ZIP (or the model's tar) cannot be opened."""
    UNSAFE_ARCHIVE = "UNSAFE_ARCHIVE"
    """The ZIP holds links, paths outside itself or members far larger than photos."""
    NO_PHOTOS = "NO_PHOTOS"
    """No usable photo in the ZIP."""
    TOO_FEW_PHOTOS = "TOO_FEW_PHOTOS"
    """Fewer usable photos than any 3D model needs."""
    TOO_LARGE = "TOO_LARGE"
    """More photos than one submission may hold."""
    NO_OVERLAP = "NO_OVERLAP"
    """Too few photos could be matched or placed in 3D: they do not overlap enough."""
    BAD_SFM_OUTPUT = "BAD_SFM_OUTPUT"
    """The SfM output to train from is incomplete or not the SfM stage's."""
    BAD_MODEL = "BAD_MODEL"
    """The model to compress is not a usable 3D Gaussian Splat."""
    DIVERGED = "DIVERGED"
    """Training became unstable (non-finite values)."""
    QUALITY_CHECK = "QUALITY_CHECK"
    """The compressed splat lost more quality than allowed, so it is not delivered."""

    # The deployment: the same job on the same machine fails the same way again.
    INVALID_SETTINGS = "INVALID_SETTINGS"
    """The operator's stage settings (``SPLATFLOW_*_ARGUMENTS`` / ``…_HYPERPARAMETERS``) are wrong."""
    NO_GPU = "NO_GPU"
    """The settings demand a CUDA GPU and the machine has none."""
    OUT_OF_MEMORY = "OUT_OF_MEMORY"
    """The job ran out of memory on its instance."""

    # Transient or unexpected: another try may succeed.
    TIME_LIMIT = "TIME_LIMIT"
    """The job ran longer than it is allowed to."""
    SERVICE_INTERRUPTED = "SERVICE_INTERRUPTED"
    """SageMaker (or the job runner) lost capacity or had an internal fault."""
    INTERNAL = "INTERNAL"
    """A bug or an environment fault; the job's log has the trace."""

    @property
    def retry_may_help(self) -> bool:
        """False when the same job is bound to fail the same way: a retry only delays the failure email."""
        return self in _TRANSIENT


_TRANSIENT = frozenset({FailureCode.TIME_LIMIT, FailureCode.SERVICE_INTERRUPTED, FailureCode.INTERNAL})


@dataclass(frozen=True)
class StepFailure:
    """A parsed failure line: the step (a stage, or an Airflow-side step such as ``validate``), the
    code, and the message in the user's words."""

    step: str
    code: FailureCode
    message: str

    def __str__(self) -> str:
        return format_failure_reason(self.step, self.code, self.message)


def one_line(text: str) -> str:
    """Collapse a message to one line of at most ``FAILURE_REASON_MAX_CHARS`` characters."""
    flat = " ".join(text.split())
    if len(flat) > FAILURE_REASON_MAX_CHARS:
        flat = flat[: FAILURE_REASON_MAX_CHARS - 1] + "…"
    return flat


def format_failure_reason(step: str, code: FailureCode, message: str) -> str:
    """The one line a failed step leaves, whole within SageMaker's 1024 characters."""
    return one_line(f"{step}: {code}: {message}")


_FAILURE_LINE = re.compile(
    # SageMaker may put its error type in front ("AlgorithmError: ") and the exit code behind.
    r"(?:[A-Za-z]+Error: )?(?P<step>[a-z_]+): (?P<code>[A-Z_]+): (?P<message>.*?)(?:,? exit code: \d+\.?)?",
    re.DOTALL,
)


def parse_failure_reason(reason: str | None) -> StepFailure | None:
    """The failure a step reported in :func:`format_failure_reason`'s form, or None for any other text
    (SageMaker's own reasons, a crash that wrote nothing)."""
    match = _FAILURE_LINE.fullmatch((reason or "").strip())
    if match is None or match["code"] not in FailureCode.__members__:
        return None
    return StepFailure(match["step"], FailureCode(match["code"]), match["message"].strip())
