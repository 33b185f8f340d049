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
import unicodedata
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Literal, TypeVar, get_args
from urllib.parse import quote, unquote, unquote_plus, urlsplit

import email_validator

from splatflow.contract.failures import FailureCode
from splatflow.contract.train_settings import Preset

Steps = Literal["full", "train_and_compress", "compress_only"]
STEPS: tuple[Steps, ...] = get_args(Steps)
PRESETS: tuple[Preset, ...] = get_args(Preset)
DEFAULT_STEPS: Steps = "full"
DEFAULT_PRESET: Preset = "standard"

ALLOWED_BUCKETS_SETTING = "SPLATFLOW_ALLOWED_BUCKETS"
URL_FORMS = (
    "s3://BUCKET/KEY, https://BUCKET.s3.amazonaws.com/KEY, "
    "https://BUCKET.s3.REGION.amazonaws.com/KEY or https://s3.REGION.amazonaws.com/BUCKET/KEY"
)
MAX_URL_CHARS = 2048
MAX_EMAIL_CHARS = 254  # the longest address SMTP can carry (RFC 5321 with RFC 3696 errata)
MAX_KEY_BYTES = 1024  # S3's own limit on an object key
MAX_RUN_SEGMENT_CHARS = 80

_REGION = r"[a-z]{2}(?:-[a-z]+)+-\d+"
# https://s3.amazonaws.com/BUCKET/KEY, https://s3.REGION.amazonaws.com/... and the legacy s3-REGION host
_PATH_STYLE_HOST = re.compile(rf"s3(?:[.-](?P<region>{_REGION}))?\.amazonaws\.com")
# https://BUCKET.s3.amazonaws.com/KEY, https://BUCKET.s3.REGION.amazonaws.com/KEY, legacy BUCKET.s3-REGION
_VIRTUAL_HOST = re.compile(rf"(?P<bucket>.+?)\.s3(?:[.-](?P<region>{_REGION}))?\.amazonaws\.com", re.IGNORECASE)

# S3 general purpose bucket naming rules (docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html)
_BUCKET_SHAPE = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_IP_ADDRESS = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
_RESERVED_BUCKET_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_BUCKET_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")

_UNSAFE_RUN_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


class SubmissionError(ValueError):
    """A submission we refuse; the message is for the user and says what to do instead, the code
    says what kind of refusal it is (the failure email's advice follows it)."""

    def __init__(self, message: str, code: FailureCode = FailureCode.INVALID_SUBMISSION) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class S3Location:
    """One S3 object, or a prefix when ``key`` ends with ``/``; ``key`` is the literal key, never encoded."""

    bucket: str
    key: str

    @property
    def uri(self) -> str:
        """``s3://bucket/key`` with the key as it is: what boto3 and SageMaker's ``S3Uri`` take."""
        return f"s3://{self.bucket}/{self.key}"

    @property
    def url(self) -> str:
        """``s3://bucket/key`` with the key percent-encoded, so :func:`parse_s3_url` reads it back exactly."""
        return f"s3://{self.bucket}/{quote(self.key, safe='/')}"

    @property
    def name(self) -> str:
        """The last part of the key (a file name, or a prefix's folder name), for messages."""
        return self.key.rstrip("/").rsplit("/", 1)[-1]

    def joinpath(self, relative: str) -> S3Location:
        """The location ``relative`` under this prefix (a ``/`` is added between them when missing)."""
        if not relative or relative.startswith("/"):
            raise ValueError(f"not a relative key: {relative!r}")
        base = self.key if not self.key or self.key.endswith("/") else f"{self.key}/"
        return S3Location(self.bucket, base + relative)


def parse_s3_url(url: str, field: str = "s3_url") -> S3Location:
    """Read one of the four S3 URL forms of DESIGN section 1 into a bucket and a literal key.

    Keys are percent-decoded (a space is ``%20``; in the https forms also ``+``, the way S3 itself
    and the S3 console's object URLs treat it). A query string is refused: a presigned URL
    expires and would leak its signature into logs, and S3 needs no parameters to name an object.
    """
    if not isinstance(url, str):
        raise SubmissionError(f"{field} must be a text string, not {_type_name(url)}")
    if not url:
        raise SubmissionError(f"{field} is empty; give the S3 URL, like {URL_FORMS}")
    if len(url) > MAX_URL_CHARS:
        raise SubmissionError(f"{field} is {len(url)} characters long; an S3 URL has at most {MAX_URL_CHARS}")
    _refuse_invisible(url, field, "URL", hint="write a space in a key as %20")
    if "?" in url:
        raise SubmissionError(
            f"{field} has a query string ('?...'); give the plain object URL without parameters "
            "(a presigned or versioned URL is not accepted; write a '?' in a key as %3F)"
        )
    if "#" in url:
        raise SubmissionError(f"{field} has a '#' fragment; give the plain object URL (write a '#' in a key as %23)")
    parts = urlsplit(url)
    try:
        if parts.scheme == "s3":
            _refuse_userinfo_or_port(parts.netloc, field)
            bucket, key = parts.netloc, unquote(parts.path.removeprefix("/"), errors="strict")
        elif parts.scheme == "https":
            bucket, key = _https_bucket_and_key(parts.netloc, parts.path, field)
        else:
            shown = f"'{parts.scheme}://'" if parts.scheme else "no scheme"
            raise SubmissionError(f"{field} has {shown}; use one of these forms: {URL_FORMS}")
    except UnicodeDecodeError:
        raise SubmissionError(
            f"{field} holds a %-escape that is not UTF-8 text; check how the URL was copied"
        ) from None
    return S3Location(check_bucket_name(bucket, field), _check_key(key, field))


def _https_bucket_and_key(netloc: str, path: str, field: str) -> tuple[str, str]:
    _refuse_userinfo_or_port(netloc, field)
    host = netloc.lower()
    if _PATH_STYLE_HOST.fullmatch(host):
        bucket, _, encoded_key = path.removeprefix("/").partition("/")
        return unquote(bucket, errors="strict"), unquote_plus(encoded_key, errors="strict")
    virtual = _VIRTUAL_HOST.fullmatch(netloc)
    if virtual:
        return virtual["bucket"], unquote_plus(path.removeprefix("/"), errors="strict")
    raise SubmissionError(f"{field} points at '{netloc}', which is not an Amazon S3 address; use one of: {URL_FORMS}")


def _refuse_userinfo_or_port(netloc: str, field: str) -> None:
    if "@" in netloc or ":" in netloc:
        raise SubmissionError(f"{field} names a user, password or port before the bucket; use one of: {URL_FORMS}")


def invisible_character(text: str, allow_space: bool = False) -> str | None:
    """The first whitespace, control or format character in ``text``, or None.

    Such characters hide what a value really is, and a line break in a value that reaches a mail
    header or a log line injects a new one.
    """
    for char in text:
        if char == " " and allow_space:
            continue
        if char.isspace() or unicodedata.category(char) in {"Cc", "Cf", "Zl", "Zp"}:
            return char
    return None


def _refuse_invisible(text: str, field: str, what: str, hint: str, allow_space: bool = False) -> None:
    """A decoded S3 key may hold plain spaces (``my photos.zip``); nothing else invisible is accepted."""
    char = invisible_character(text, allow_space)
    if char is not None:
        label = "a space" if char == " " else f"an invisible or control character (U+{ord(char):04X})"
        raise SubmissionError(f"{field} holds {label} in the {what}; {hint}")


def check_bucket_name(bucket: str, field: str = "bucket") -> str:
    """``bucket`` when it follows S3's naming rules; otherwise a message saying which rule it breaks."""
    if not bucket:
        raise SubmissionError(f"{field} names no bucket; use one of: {URL_FORMS}")
    if not _BUCKET_SHAPE.fullmatch(bucket):
        raise SubmissionError(
            f"{field}: '{bucket}' is not a valid S3 bucket name (3 to 63 lower-case letters, digits, "
            "dots and hyphens, starting and ending with a letter or digit)"
        )
    if ".." in bucket or _IP_ADDRESS.fullmatch(bucket):
        raise SubmissionError(
            f"{field}: '{bucket}' is not a valid S3 bucket name (two dots in a row, or an IP address)"
        )
    if bucket.startswith(_RESERVED_BUCKET_PREFIXES) or bucket.endswith(_RESERVED_BUCKET_SUFFIXES):
        raise SubmissionError(f"{field}: '{bucket}' uses a prefix or suffix S3 reserves; it cannot name a bucket")
    return bucket


def _check_key(key: str, field: str) -> str:
    if not key or key == "/":
        raise SubmissionError(f"{field} names a bucket but no object; add the key, like s3://bucket/photos.zip")
    _refuse_invisible(key, field, "object key (after decoding)", hint="rename the object without it", allow_space=True)
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise SubmissionError(f"{field}: the object key is longer than S3's {MAX_KEY_BYTES}-byte limit")
    if any(part in {".", ".."} for part in key.split("/")):
        raise SubmissionError(f"{field}: the object key holds a '.' or '..' folder; give the object's real key")
    return key


def validate_email(address: str, field: str = "email") -> str:
    """One plain address (``name@example.com``), normalised; nothing that could reach a mail header.

    Display names, lists, quoted local parts, IP-address domains and special-use domains are
    refused. The domain is lower-cased and an internationalised one is given in its ASCII
    (punycode) form, which every SMTP server accepts.
    """
    if not isinstance(address, str):
        raise SubmissionError(f"{field} must be a text string, not {_type_name(address)}")
    trimmed = address.strip(" ")
    if not trimmed:
        raise SubmissionError(f"{field} is empty; give the address the results should go to")
    _refuse_invisible(trimmed, field, "address", hint="give exactly one address, like name@example.com")
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
    (``train_and_compress``), ``model`` a trained ``model.tar.gz`` or ``.ply`` (``compress_only``);
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
        model=_optional_location(params, "model_url", _MODEL_SUFFIXES, "a model.tar.gz or a .ply"),
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
        raise SubmissionError(f"{field} must be a text string, not {_type_name(value)}")
    return value


def _choice(params: Mapping[str, object], field: str, allowed: tuple[_Choice, ...], default: _Choice) -> _Choice:
    value = params.get(field)
    if value is None or value == "":
        return default
    for option in allowed:
        if value == option:
            return option
    shown = repr(value)[:60] if isinstance(value, str) else _type_name(value)
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


def _as_prefix(location: S3Location | None) -> S3Location | None:
    """An SfM output is a folder: make the key end with ``/`` so it never matches a sibling prefix."""
    if location is None or location.key.endswith("/"):
        return location
    return S3Location(location.bucket, f"{location.key}/")


def _type_name(value: object) -> str:
    return "nothing" if value is None else f"a {type(value).__name__}"


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
