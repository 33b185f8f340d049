"""S3 locations as users write them: the four URL forms of DESIGN section 1, read into a bucket and a
literal key, and checked against S3's own rules (bucket names, key length, no invisible characters,
no presigned query strings) before anything trusts them.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import quote, unquote, unquote_plus, urlsplit

from splatflow.pipeline.refusal import SubmissionError, type_name

URL_FORMS = (
    "s3://BUCKET/KEY, https://BUCKET.s3.amazonaws.com/KEY, "
    "https://BUCKET.s3.REGION.amazonaws.com/KEY or https://s3.REGION.amazonaws.com/BUCKET/KEY"
)
MAX_URL_CHARS = 2048
MAX_KEY_BYTES = 1024  # S3's own limit on an object key

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
        raise SubmissionError(f"{field} must be a text string, not {type_name(url)}")
    if not url:
        raise SubmissionError(f"{field} is empty; give the S3 URL, like {URL_FORMS}")
    if len(url) > MAX_URL_CHARS:
        raise SubmissionError(f"{field} is {len(url)} characters long; an S3 URL has at most {MAX_URL_CHARS}")
    refuse_invisible(url, field, "URL", hint="write a space in a key as %20")
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
    return S3Location(check_bucket_name(bucket, field), check_key(key, field))


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


def refuse_invisible(text: str, field: str, what: str, hint: str, allow_space: bool = False) -> None:
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


def check_key(key: str, field: str) -> str:
    if not key or key == "/":
        raise SubmissionError(f"{field} names a bucket but no object; add the key, like s3://bucket/photos.zip")
    refuse_invisible(key, field, "object key (after decoding)", hint="rename the object without it", allow_space=True)
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise SubmissionError(f"{field}: the object key is longer than S3's {MAX_KEY_BYTES}-byte limit")
    if any(part in {".", ".."} for part in key.split("/")):
        raise SubmissionError(f"{field}: the object key holds a '.' or '..' folder; give the object's real key")
    return key
