"""What a user submits, checked once at the door: S3 locations, the email address, the steps.

Every later task trusts a :class:`Submission`, so everything a user typed is refused here, in
their words, before any job starts: URLs in a form we do not read, buckets the operator has not
allowed, presigned or otherwise odd URLs, header-injecting email addresses, absurd step or preset
values. A refusal is a :class:`SubmissionError` whose message names the field, the problem and
what to do about it; it goes into the failure email as it is.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Literal, TypeVar, get_args

import email_validator

from splatflow.contract.failures import FailureCode
from splatflow.contract.train_settings import Preset
from splatflow.pipeline.refusal import SubmissionError, type_name
from splatflow.pipeline.s3_locations import S3Location, check_bucket_name, parse_s3_url, refuse_invisible

Steps = Literal["full", "train_and_compress", "compress_only"]
STEPS: tuple[Steps, ...] = get_args(Steps)
PRESETS: tuple[Preset, ...] = get_args(Preset)
DEFAULT_STEPS: Steps = "full"
DEFAULT_PRESET: Preset = "standard"

ALLOWED_BUCKETS_SETTING = "SPLATFLOW_ALLOWED_BUCKETS"
MAX_EMAIL_CHARS = 254  # the longest address SMTP can carry (RFC 5321 with RFC 3696 errata)
MAX_RUN_SEGMENT_CHARS = 80

_UNSAFE_RUN_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


def validate_email(address: str, field: str = "email") -> str:
    """One plain address (``name@example.com``), normalised; nothing that could reach a mail header.

    Display names, lists, quoted local parts, IP-address domains and special-use domains are
    refused. The domain is lower-cased and an internationalised one is given in its ASCII
    (punycode) form, which every SMTP server accepts.
    """
    if not isinstance(address, str):
        raise SubmissionError(f"{field} must be a text string, not {type_name(address)}")
    trimmed = address.strip(" ")
    if not trimmed:
        raise SubmissionError(f"{field} is empty; give the address the results should go to")
    refuse_invisible(trimmed, field, "address", hint="give exactly one address, like name@example.com")
    try:
        checked = email_validator.validate_email(trimmed, check_deliverability=False, allow_smtputf8=False, strict=True)
    except email_validator.EmailNotValidError as exc:
        raise SubmissionError(
            f"{field}: '{trimmed}' is not a usable email address: {exc} Give exactly one address, like name@example.com"
        ) from None
    return checked.ascii_email or checked.normalized


@dataclass(frozen=True)
class Submission:
    """A checked submission: what to process, which steps, and where the results are emailed.

    ``input`` is the ZIP of photos (``full``), ``sfm_output`` the prefix of an earlier SfM output
    (``train_and_compress``), ``model`` a trained ``model.tar.gz``, ``.ply`` or model folder (``compress_only``);
    exactly the one the steps need is set.
    """

    email: str
    steps: Steps = DEFAULT_STEPS
    preset: Preset = DEFAULT_PRESET
    input: S3Location | None = None
    sfm_output: S3Location | None = None
    model: S3Location | None = None

    def __post_init__(self) -> None:
        needed = _SOURCE_FIELD[self.steps]
        for name in _SOURCE_FIELD.values():
            value = getattr(self, name)
            if name == needed and value is None:
                raise SubmissionError(f"{_PARAM_OF[name]} is required when steps is '{self.steps}'")
            if name != needed and value is not None:
                raise SubmissionError(
                    f"{_PARAM_OF[name]} is only used when steps is '{_STEPS_OF[name]}'; "
                    f"leave it empty when steps is '{self.steps}'"
                )

    @property
    def source(self) -> S3Location:
        """The one location this run reads from, whatever the steps."""
        location = getattr(self, _SOURCE_FIELD[self.steps])
        assert isinstance(location, S3Location)  # guaranteed by __post_init__
        return location

    def to_dict(self) -> dict[str, str | None]:
        """A JSON-safe form for XCom and the manifest, shaped as the DAG params.

        So it is also the ``conf`` that submits this again: :func:`parse_submission` reads it back
        (percent-encoded keys make the round trip exact).
        """
        return {
            "s3_url": self.input.url if self.input else None,
            "email": self.email,
            "steps": self.steps,
            "preset": self.preset,
            "sfm_output_url": self.sfm_output.url if self.sfm_output else None,
            "model_url": self.model.url if self.model else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Submission:
        """The submission :meth:`to_dict` wrote, checked again (but not against an allow-list)."""
        return _parse_fields(data)


_SOURCE_FIELD: dict[Steps, str] = {"full": "input", "train_and_compress": "sfm_output", "compress_only": "model"}
_STEPS_OF = {field: steps for steps, field in _SOURCE_FIELD.items()}
_PARAM_OF = {"input": "s3_url", "sfm_output": "sfm_output_url", "model": "model_url"}
_MODEL_SUFFIXES = (".tar.gz", ".ply")
PARAM_NAMES = ("s3_url", "email", "steps", "preset", "sfm_output_url", "model_url")
"""The DAG params a submission is made of: the keys of :meth:`Submission.to_dict`."""


def parse_submission(params: Mapping[str, object], allowed_buckets: Collection[str]) -> Submission:
    """The DAG params (UI form or REST ``conf``) as a :class:`Submission`, or a :class:`SubmissionError`.

    Every location the user gives must be in a bucket of ``allowed_buckets``; an empty
    allow-list refuses everything, so a fresh install reads nothing until the operator says which
    buckets hold submissions.
    """
    submission = _parse_fields(params)
    check_allowed_buckets([submission.source], allowed_buckets)
    return submission


def check_allowed_buckets(locations: Collection[S3Location], allowed_buckets: Collection[str]) -> None:
    """Refuse any location outside the operator's allow-list."""
    if not allowed_buckets:
        raise SubmissionError(
            "no S3 bucket is allowed for submissions yet; the operator must list the buckets in the "
            f"{ALLOWED_BUCKETS_SETTING} setting (comma-separated bucket names)",
            FailureCode.BUCKET_NOT_ALLOWED,
        )
    for location in locations:
        if location.bucket not in allowed_buckets:
            raise SubmissionError(
                f"the bucket '{location.bucket}' is not allowed for submissions; upload to one of: "
                f"{', '.join(sorted(allowed_buckets))}",
                FailureCode.BUCKET_NOT_ALLOWED,
            )


def _parse_fields(params: Mapping[str, object]) -> Submission:
    _refuse_unknown_fields(params)
    steps = _choice(params, "steps", STEPS, DEFAULT_STEPS)
    preset = _choice(params, "preset", PRESETS, DEFAULT_PRESET)
    email = _text_param(params, "email")
    if not email:
        raise SubmissionError("email is required; give the address the results should go to")
    return Submission(
        email=validate_email(email),
        steps=steps,
        preset=preset,
        input=_optional_location(params, "s3_url", (".zip",), "a .zip of photos"),
        sfm_output=_as_prefix(_optional_location(params, "sfm_output_url", (), "")),
        model=_model_location(params),
    )


_Choice = TypeVar("_Choice", bound=str)


def _refuse_unknown_fields(params: Mapping[str, object]) -> None:
    """A field we do not read (``max_steps``, ``iterations``…) is refused, not silently ignored.

    A REST caller who sends one expects it to change the run; running without it would deliver
    something other than what was asked for. Airflow's trigger accepts any extra ``conf`` key.
    """
    unknown = sorted(str(name) for name in params if name not in PARAM_NAMES)
    if not unknown:
        return
    shown = ", ".join(repr(name)[:40] for name in unknown[:5]) + (", …" if len(unknown) > 5 else "")
    verb = "is not a setting" if len(unknown) == 1 else "are not settings"
    raise SubmissionError(
        f"{shown} {verb} of this pipeline; a submission takes only: {', '.join(PARAM_NAMES)} "
        "(the quality preset decides how long training runs)"
    )


def _text_param(params: Mapping[str, object], field: str) -> str | None:
    """A text param, or None when left empty; any other type is refused."""
    value = params.get(field)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise SubmissionError(f"{field} must be a text string, not {type_name(value)}")
    return value


def _choice(params: Mapping[str, object], field: str, allowed: tuple[_Choice, ...], default: _Choice) -> _Choice:
    value = params.get(field)
    if value is None or value == "":
        return default
    for option in allowed:
        if value == option:
            return option
    shown = repr(value)[:60] if isinstance(value, str) else type_name(value)
    raise SubmissionError(f"{field} is {shown}; choose one of: {', '.join(allowed)}")


def _optional_location(
    params: Mapping[str, object], field: str, suffixes: tuple[str, ...], expected: str
) -> S3Location | None:
    value = _text_param(params, field)
    if value is None:
        return None
    location = parse_s3_url(value, field)
    if suffixes and not location.key.lower().endswith(suffixes):
        raise SubmissionError(f"{field} must point at {expected}; '{location.name}' is not one")
    return location


def _model_location(params: Mapping[str, object]) -> S3Location | None:
    """A model is a ``model.tar.gz``, a ``.ply``, or a training job's uncompressed model folder
    (a key ending in ``/``: an earlier run's ``…/output/model/``, its manifest's ``model``)."""
    value = _text_param(params, "model_url")
    if value is not None and parse_s3_url(value, "model_url").key.endswith("/"):
        return parse_s3_url(value, "model_url")
    return _optional_location(
        params, "model_url", _MODEL_SUFFIXES, "a model.tar.gz, a .ply or a training job's model folder (ending in /)"
    )


def _as_prefix(location: S3Location | None) -> S3Location | None:
    """An SfM output is a folder: make the key end with ``/`` so it never matches a sibling prefix."""
    if location is None or location.key.endswith("/"):
        return location
    return S3Location(location.bucket, f"{location.key}/")


def run_key_segment(run_id: str) -> str:
    """An Airflow run id as one safe S3 key segment, the same every time for the same id.

    Run ids hold ``:`` and ``+`` (``manual__2026-05-01T12:00:00+00:00``) and REST callers may choose
    their own; anything outside ``[A-Za-z0-9._-]`` becomes ``-``, and a short hash of the exact id
    keeps two ids that differ only there from sharing a prefix.
    """
    if not run_id:
        raise ValueError("the run id is empty")
    readable = _UNSAFE_RUN_CHARS.sub("-", run_id).strip("-.")[:MAX_RUN_SEGMENT_CHARS] or "run"
    digest = hashlib.sha256(run_id.encode("utf-8")).hexdigest()[:10]
    return f"{readable}-{digest}"


def run_prefix(work_bucket: str, run_id: str) -> S3Location:
    """``s3://<work bucket>/runs/<safe run id>/``: where one run writes everything."""
    return S3Location(check_bucket_name(work_bucket, "work bucket"), f"runs/{run_key_segment(run_id)}/")
