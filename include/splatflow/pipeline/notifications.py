"""The emails a user receives: the result with its figures and links, or what went wrong and what to do.

Both are rendered from Jinja templates (``templates/``) with autoescaping on: file names, keys and
failure reasons come from the user or their ZIP and must never become markup in the HTML part.
The failure email's advice follows the failure's code (``contract.failures.FailureCode``); its
reason, in the step's own words, is cleaned before it is shown (no stack traces, no presigned
query strings, bounded length).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import jinja2

from splatflow import __version__
from splatflow.contract.failures import FailureCode
from splatflow.contract.outputs import PREVIEW, STILLS
from splatflow.pipeline import ids
from splatflow.pipeline.manifest import QualityMetrics
from splatflow.pipeline.submission import Submission, invisible_character

PREVIEW_CID = PREVIEW
"""The preview's Content-ID: an inline still is attached under its file name, which is its Content-ID."""


def inline_stills(outputs: Mapping[str, str]) -> dict[str, str]:
    """The stills a manifest's outputs hold, by the Content-ID the email shows them with (their
    file name), in the order shown: the preview, then the orbit thumbnails."""
    return {file_name: outputs[name] for name, file_name in STILLS.items() if name in outputs}


MAX_REASON_CHARS = 300
MAX_SUBJECT_NAME_CHARS = 60
MISSING = "—"

STEP_LABELS = {
    ids.VALIDATE: "input check",
    ids.WAIT_FOR_INPUT: "upload check",
    "sfm": "photo alignment (SfM)",
    "train": "3D training",
    "compress": "compression",
    ids.PUBLISH: "publishing the results",
}


@dataclass(frozen=True)
class RenderedEmail:
    """What the caller hands to the email operator: a one-line subject, an HTML body, a text body."""

    subject: str
    html: str
    text: str


@dataclass(frozen=True)
class ResultLinks:
    """Presigned download links, the viewer link, and when the presigned links expire."""

    sog: str
    ply: str
    viewer: str
    expires_at: datetime

    def __post_init__(self) -> None:
        for name in ("sog", "ply", "viewer"):
            url = getattr(self, name)
            if urlsplit(url).scheme not in {"https", "http"} or invisible_character(url) is not None:
                raise ValueError(f"the {name} link must be a plain http(s) URL, not {url[:80]!r}")
        if self.expires_at.tzinfo is None:
            raise ValueError("expires_at must carry a timezone")


# --- advice by failure code ------------------------------------------------------------------------


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
        "The service may not read the bucket the files are in.",
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
        "Give the model.tar.gz of a finished training job, or a 3D Gaussian Splatting .ply, and submit again.",
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


# --- cleaning a failure reason ------------------------------------------------------------------------

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
    text = " ".join(_visible(" ".join(lines)).split())
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


def _sentence(text: str) -> str:
    """Capitalised and closed with a full stop, as it reads in the email."""
    closed = text if text.endswith((".", "!", "?", "…")) else f"{text}."
    return closed[:1].upper() + closed[1:]


def _visible(text: str) -> str:
    """Control and format characters replaced by spaces (they could fold a mail header or hide text)."""
    return "".join(" " if unicodedata.category(char) in {"Cc", "Cf", "Zl", "Zp"} else char for char in text)


def _subject_safe(name: str) -> str:
    one_line = " ".join(_visible(name).split())
    if len(one_line) > MAX_SUBJECT_NAME_CHARS:
        return one_line[: MAX_SUBJECT_NAME_CHARS - 1] + "…"
    return one_line


# --- formatting ------------------------------------------------------------------------------------------


def format_size(size: int | None) -> str:
    if size is None:
        return MISSING
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return MISSING
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


def format_usd(amount: float | None) -> str:
    if amount is None:
        return MISSING
    return f"${amount:.2f}" if amount >= 0.01 else "less than $0.01"


def _decimal(value: float | None, places: int, unit: str = "") -> str:
    return MISSING if value is None else f"{value:.{places}f}{unit}"


def _count(value: int | None) -> str:
    return MISSING if value is None else f"{value:,}"


def _time_left(expires_at: datetime, now: datetime) -> str:
    hours = max(0.0, (expires_at - now).total_seconds() / 3600)
    if hours >= 48:
        return f"in {round(hours / 24)} days"
    return f"in {max(1, round(hours))} hour{'s' if round(hours) > 1 else ''}"


# --- rendering -------------------------------------------------------------------------------------------


@functools.cache
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("splatflow.pipeline", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=True),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    environment.filters["size"] = format_size
    return environment


def _render(name: str, subject: str, context: Mapping[str, Any]) -> RenderedEmail:
    environment = _environment()
    values = {**context, "subject": subject, "version": __version__}
    return RenderedEmail(
        subject=subject,
        html=environment.get_template(f"{name}.html").render(values),
        text=environment.get_template(f"{name}.txt").render(values),
    )


def _figures(quality: QualityMetrics, manifest: Mapping[str, Any]) -> list[tuple[str, str]]:
    photos = _count(quality.photos_registered)
    if quality.photos_registered is not None and quality.photos_received is not None:
        photos = f"{quality.photos_registered:,} of {quality.photos_received:,}"
    sizes = MISSING
    if quality.ply_bytes is not None and quality.sog_bytes is not None:
        sizes = f"{format_size(quality.ply_bytes)} → {format_size(quality.sog_bytes)}"
    duration = manifest.get("run_seconds")
    return [
        ("Photos placed in the 3D model", photos),
        ("Image quality on photos held back from training (PSNR)", _decimal(quality.psnr_db, 1, " dB")),
        ("Gaussians", _count(quality.gaussians)),
        ("Size (.ply → .sog)", sizes),
        ("Compression ratio", _decimal(quality.compression_ratio, 1, "×")),
        ("Processing time", format_duration(duration if duration is not None else manifest.get("compute_seconds"))),
        ("Estimated cost", format_usd(manifest.get("total_cost_usd"))),
    ]


def render_success_email(manifest: Mapping[str, Any], links: ResultLinks, now: datetime | None = None) -> RenderedEmail:
    """The result email for a succeeded run's manifest; the preview is shown from ``cid:preview.png``."""
    if manifest.get("status") != "succeeded":
        raise ValueError("a success email needs the manifest of a succeeded run")
    submission = Submission.from_dict(manifest["submission"])
    quality = QualityMetrics.from_dict(manifest["quality"])
    expires_at = links.expires_at.astimezone(UTC)
    name = submission.source.name
    return _render(
        "success",
        f"Your 3D splat of {_subject_safe(name)} is ready",
        {
            "source_name": name,
            "preview_cid": PREVIEW_CID,
            "orbit_cids": [cid for cid in inline_stills(manifest["outputs"]) if cid != PREVIEW_CID],
            "links": links,
            "quality": quality,
            "figures": _figures(quality, manifest),
            "expires_at": f"{expires_at:%d %B %Y, %H:%M} UTC",
            "expires_in": _time_left(expires_at, now or datetime.now(UTC)),
            "run_id": manifest["run_id"],
            "preset": submission.preset,
        },
    )


def render_failure_email(
    *, step: str, code: FailureCode, reason: str, run_id: str, source_name: str | None = None
) -> RenderedEmail:
    """The failure email: which step stopped, the reason in plain words, and what the user can do."""
    diagnosis = diagnose(code)
    shown = INTERNAL_REASON if code is FailureCode.INTERNAL else plain_reason(reason)
    about = f" for {_subject_safe(source_name)}" if source_name else ""
    return _render(
        "failure",
        f"Your 3D splat{about} could not be made",
        {
            "source_name": source_name,
            "stage_label": STEP_LABELS.get(step, "processing"),
            "problem": diagnosis.problem,
            "reason": _sentence(shown),
            "action": diagnosis.action,
            "run_id": run_id,
        },
    )
