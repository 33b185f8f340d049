"""The emails a user receives: the result with its figures and links, or what went wrong and what to do.

Both are rendered from Jinja templates (``templates/``) with autoescaping on: file names, keys and
failure reasons come from the user or their ZIP and must never become markup in the HTML part.
The failure email's advice follows the failure's code (``contract.failures.FailureCode``); its
reason, in the step's own words, is cleaned before it is shown (no stack traces, no presigned
query strings, bounded length).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import jinja2

from splatflow import __version__
from splatflow.contract.failures import FailureCode
from splatflow.contract.outputs import PREVIEW, STILLS
from splatflow.pipeline import ids
from splatflow.pipeline.emails.diagnosis import INTERNAL_REASON, diagnose, plain_reason, visible
from splatflow.pipeline.emails.mime import content_id
from splatflow.pipeline.manifest import QualityMetrics
from splatflow.pipeline.s3_locations import invisible_character
from splatflow.pipeline.submission import Submission
from splatflow.units import format_size


def inline_stills(outputs: Mapping[str, str]) -> dict[str, str]:
    """The stills a manifest's outputs hold, by file name, in the order the email shows them: the
    preview, then the orbit thumbnails."""
    return {file_name: outputs[name] for name, file_name in STILLS.items() if name in outputs}


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
    content_ids: Mapping[str, str] = field(default_factory=dict)
    """The Content-ID the HTML shows each picture by (``cid:…``), by the picture's file name."""


@dataclass(frozen=True)
class ResultLinks:
    """Presigned download links, the viewer link, and when the presigned links expire."""

    sog: str
    ply: str
    viewer: str
    expires_at: datetime
    expiry_certain: bool = True
    """False when the signing credentials' expiry is unknown: ``expires_at`` is then the latest."""
    spz: str | None = None
    """Absent for a run published before the compressor wrote ``.spz`` and ``.glb``."""
    glb: str | None = None
    tileset: str | None = None
    """Only for a geo-registered run; ``tile`` is its content, which the tileset names beside it."""
    tile: str | None = None

    def __post_init__(self) -> None:
        for name in ("sog", "ply", "viewer", "spz", "glb", "tileset", "tile"):
            url = getattr(self, name)
            if url is None and name in ("spz", "glb", "tileset", "tile"):
                continue
            if urlsplit(url).scheme not in {"https", "http"} or invisible_character(url) is not None:
                raise ValueError(f"the {name} link must be a plain http(s) URL, not {url[:80]!r}")
        if self.expires_at.tzinfo is None:
            raise ValueError("expires_at must carry a timezone")


def _sentence(text: str) -> str:
    """Capitalised and closed with a full stop, as it reads in the email."""
    closed = text if text.endswith((".", "!", "?", "…")) else f"{text}."
    return closed[:1].upper() + closed[1:]


def _subject_safe(name: str) -> str:
    one_line = " ".join(visible(name).split())
    if len(one_line) > MAX_SUBJECT_NAME_CHARS:
        return one_line[: MAX_SUBJECT_NAME_CHARS - 1] + "…"
    return one_line


# --- formatting ------------------------------------------------------------------------------------------


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
    seconds = max(0.0, (expires_at - now).total_seconds())
    if round(seconds / 60) < 60:
        minutes = max(1, round(seconds / 60))
        return f"in {minutes} minute{'s' if minutes > 1 else ''}"
    hours = seconds / 3600
    if hours >= 48:
        return f"in {round(hours / 24)} days"
    return f"in {max(1, round(hours))} hour{'s' if round(hours) > 1 else ''}"


# --- rendering -------------------------------------------------------------------------------------------


@functools.cache
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("splatflow.pipeline.emails", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=True),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    environment.filters["size"] = format_size
    return environment


def _render(
    name: str, subject: str, context: Mapping[str, Any], content_ids: Mapping[str, str] | None = None
) -> RenderedEmail:
    environment = _environment()
    values = {**context, "subject": subject, "version": __version__}
    return RenderedEmail(
        subject=subject,
        html=environment.get_template(f"{name}.html").render(values),
        text=environment.get_template(f"{name}.txt").render(values),
        content_ids=dict(content_ids or {}),
    )


COST_LABEL = "What SageMaker would charge (estimate)"


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
        # SageMaker's price list for the jobs' instances and seconds: what SageMaker charges for the
        # run, or, for a run on the embedded runtime, which charges nothing, what it would charge.
        (COST_LABEL, format_usd(manifest.get("total_cost_usd"))),
    ]


def render_success_email(manifest: Mapping[str, Any], links: ResultLinks, now: datetime | None = None) -> RenderedEmail:
    """The result email for a succeeded run's manifest; its HTML shows the run's stills inline, each
    by the Content-ID the email's ``content_ids`` give for its file name."""
    if manifest.get("status") != "succeeded":
        raise ValueError("a success email needs the manifest of a succeeded run")
    submission = Submission.from_dict(manifest["submission"])
    quality = QualityMetrics.from_dict(manifest["quality"])
    expires_at = links.expires_at.astimezone(UTC)
    name = submission.source.name
    content_ids = {file_name: content_id(file_name) for file_name in inline_stills(manifest["outputs"])}
    return _render(
        "success",
        f"Your 3D splat of {_subject_safe(name)} is ready",
        {
            "source_name": name,
            "preview_cid": content_ids.get(PREVIEW),
            "orbit_cids": [cid for file_name, cid in content_ids.items() if file_name != PREVIEW],
            "links": links,
            "quality": quality,
            "figures": _figures(quality, manifest),
            "expires_at": f"{expires_at:%d %B %Y, %H:%M} UTC",
            "expires_in": _time_left(expires_at, now or datetime.now(UTC)),
            "run_id": manifest["run_id"],
            "preset": submission.preset,
            "no_tileset": manifest.get("no_tileset"),
        },
        content_ids,
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
