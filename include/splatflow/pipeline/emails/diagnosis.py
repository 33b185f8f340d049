"""What a failure means for the user, and its reason in words they can read.

The failure email's advice follows the failure's code (``contract.failures.FailureCode``); its
reason, in the step's own words, is cleaned before it is shown: no stack traces, no SageMaker
error type or exit code, no presigned query strings, bounded length.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from splatflow.contract.failures import FailureCode

MAX_REASON_CHARS = 300


@dataclass(frozen=True)
class Diagnosis:
    """What a kind of failure means for the user, and what they can do about it."""

    problem: str
    action: str


OPERATOR = "If it happens again, forward this email to the operator of the service."
SERVICE_SIDE = "This is a set-up problem on the service's side, not a problem with your photos."
FORWARD = "Forward this email to the operator of the service."
MISSING_FILE = Diagnosis(
    "The file to process could not be found.",
    "Check that the link points at the uploaded file and that the upload has finished, then submit again.",
)
UNKNOWN = Diagnosis("Processing stopped with an error we did not expect.", f"Submit again a little later. {OPERATOR}")

DIAGNOSES: dict[FailureCode, Diagnosis] = {
    FailureCode.INVALID_SUBMISSION: Diagnosis(
        "The submission was refused before any processing started.",
        "Correct it as the message says and submit again.",
    ),
    FailureCode.BUCKET_NOT_ALLOWED: Diagnosis(
        "The files are in a bucket this service does not take submissions from.",
        "Upload the files to a bucket the service accepts (the operator can tell you which) and submit again.",
    ),
    FailureCode.INPUT_MISSING: MISSING_FILE,
    FailureCode.NOT_AN_ARCHIVE: Diagnosis(
        "The file could not be opened as a ZIP archive.",
        "Check that the upload finished and that the file is a .zip of your photos, then submit again.",
    ),
    FailureCode.UNSAFE_ARCHIVE: Diagnosis(
        "The ZIP was refused for safety: it holds links, paths outside the archive or files far larger than photos.",
        "Make a fresh ZIP of just the photo files (for example with your computer's Compress command) "
        "and submit it again.",
    ),
    FailureCode.NO_PHOTOS: Diagnosis(
        "No usable photos were found in the ZIP.",
        "Put the photos themselves (.jpg, .jpeg or .png) in the ZIP and submit again.",
    ),
    FailureCode.TOO_FEW_PHOTOS: Diagnosis(
        "The ZIP holds too few usable photos to build a 3D model (photos that cannot be opened are skipped).",
        "Submit a ZIP with more photos: dozens of overlapping photos taken from all around the scene.",
    ),
    FailureCode.TOO_LARGE: Diagnosis(
        "The survey is larger than one submission may be.", "Split the survey into several smaller submissions."
    ),
    FailureCode.NO_OVERLAP: Diagnosis(
        "Too few photos could be placed in 3D; the photos probably do not overlap enough.",
        "Take photos so that every spot appears in several of them (about 70 to 80% overlap between "
        "neighbouring photos), avoid water, sky and plain surfaces, and submit the whole set again.",
    ),
    FailureCode.BAD_SFM_OUTPUT: Diagnosis(
        "The photo alignment to train from is incomplete, or was not made by this service.",
        "Give the sfm/ folder of an earlier run that succeeded, or submit the photos themselves (steps 'full').",
    ),
    FailureCode.BAD_MODEL: Diagnosis(
        "The model to compress is not a usable 3D Gaussian splat.",
        "Give the model folder of a finished training job, its model.tar.gz, or a 3D Gaussian Splatting .ply, "
        "and submit again.",
    ),
    FailureCode.DIVERGED: Diagnosis(
        "Training became unstable and stopped.",
        f"Submit again with the preview preset, and check that the photos are sharp and evenly exposed. {OPERATOR}",
    ),
    FailureCode.QUALITY_CHECK: Diagnosis(
        "The compressed splat did not meet the quality bar, so it was not delivered.",
        f"Submit again with the high preset. {OPERATOR}",
    ),
    FailureCode.INVALID_SETTINGS: Diagnosis(f"The service's settings for this step are wrong. {SERVICE_SIDE}", FORWARD),
    FailureCode.NO_GPU: Diagnosis(f"The training machine had no usable GPU. {SERVICE_SIDE}", FORWARD),
    FailureCode.OUT_OF_MEMORY: Diagnosis(
        "The job ran out of memory.",
        "Submit again with the preview or standard preset, or with fewer photos. The operator can also "
        "choose a larger instance.",
    ),
    FailureCode.TIME_LIMIT: Diagnosis(
        "Processing took longer than it is allowed to.",
        "Submit again with the preview preset or with fewer photos. The operator can also raise the time limit.",
    ),
    FailureCode.SERVICE_INTERRUPTED: Diagnosis(
        "A temporary problem on the service's side interrupted processing.",
        "Nothing is wrong with your submission: submit it again a little later.",
    ),
    FailureCode.INTERNAL: UNKNOWN,
}


def diagnose(code: FailureCode) -> Diagnosis:
    """What the failure email tells the user about a failure of this kind."""
    return DIAGNOSES[code]


_TRACEBACK_START = "Traceback (most recent call last)"
_CHAINED = ("During handling of the above exception", "The above exception was the direct cause")
_FRAME_LINE = re.compile(r'^\s*File ".*", line \d+')
_ERROR_TYPE = re.compile(r"^[A-Za-z]+(Error|Exception)\s*:\s*")
_EXIT_CODE = re.compile(r",?\s*exit code:\s*\d+\.?$", re.IGNORECASE)
_URL_QUERY = re.compile(r"(https?://[^\s?#]+)[?#]\S*")
INTERNAL_REASON = "an internal error stopped processing (the details are in the job's log)"
"""What an ``INTERNAL`` failure shows instead of its words, which name exceptions and files."""


def plain_reason(reason: str) -> str:
    """A failure's words as the user should read them: one bounded line, no trace, no SageMaker
    error type or exit code around them, no presigned query string."""
    lines = [line for line in _without_tracebacks(reason.splitlines()) if not _FRAME_LINE.match(line)]
    text = " ".join(visible(" ".join(lines)).split())
    text = _URL_QUERY.sub(r"\1", text)  # a presigned URL's signature is nobody's business
    text = _EXIT_CODE.sub("", _ERROR_TYPE.sub("", text)).strip()
    if not text:
        return "the job gave no reason"
    return text if len(text) <= MAX_REASON_CHARS else text[: MAX_REASON_CHARS - 1].rstrip() + "…"


def _without_tracebacks(lines: list[str]) -> list[str]:
    """Drop each ``Traceback`` block: its header, its indented frames and its final exception line."""
    kept: list[str] = []
    in_trace = False
    for line in lines:
        if line.startswith(_TRACEBACK_START):
            in_trace = True
        elif in_trace and (not line.strip() or line[:1].isspace()):
            continue
        elif in_trace:
            in_trace = False  # the exception line that closes the block
        elif not line.startswith(_CHAINED):
            kept.append(line)
    return kept


def visible(text: str) -> str:
    """Control and format characters replaced by spaces (they could fold a mail header or hide text)."""
    return "".join(" " if unicodedata.category(char) in {"Cc", "Cf", "Zl", "Zp"} else char for char in text)
