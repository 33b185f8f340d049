"""Moving a job's data between S3 and its workspace, as SageMaker does around the container."""

from __future__ import annotations

import logging
import tarfile
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlparse

log = logging.getLogger(__name__)


class TransferError(Exception):
    """Data could not be moved; the message becomes the job's FailureReason."""


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``(bucket, key)`` of an ``s3://bucket/key`` or ``https://bucket.s3….amazonaws.com/key`` URI."""
    parsed = urlparse(uri)
    if parsed.scheme == "s3" and parsed.netloc:
        return parsed.netloc, parsed.path.lstrip("/")
    if parsed.scheme == "https" and parsed.netloc.endswith(".amazonaws.com"):
        host = parsed.netloc
        path = unquote(parsed.path.lstrip("/"))
        if host.startswith("s3.") or host == "s3.amazonaws.com":
            bucket, _, key = path.partition("/")
            return bucket, key
        return host.split(".s3", 1)[0], path
    raise TransferError(f"not an S3 URI: {uri}")


def _relative_key(prefix: str, key: str) -> str:
    """Where ``key`` lands under the local path when ``prefix`` was asked for.

    A prefix that names a "folder" keeps the layout below it; a prefix that names one object
    (``…/photos.zip``) puts that object under its own name.
    """
    if prefix.endswith("/") or not prefix:
        return key[len(prefix) :]
    if key == prefix:
        return PurePosixPath(key).name
    if key.startswith(prefix + "/"):
        return key[len(prefix) + 1 :]
    parent = prefix.rsplit("/", 1)[0] + "/" if "/" in prefix else ""
    return key[len(parent) :]


def download_prefix(s3: Any, uri: str, destination: Path) -> int:
    """Download every object under ``uri`` into ``destination``; the number of files."""
    bucket, prefix = parse_s3_uri(uri)
    destination.mkdir(parents=True, exist_ok=True)
    count = 0
    try:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for page in pages:
            for item in page.get("Contents", []):
                key = item["Key"]
                if key.endswith("/"):
                    continue
                relative = PurePosixPath(_relative_key(prefix, key))
                if relative.is_absolute() or ".." in relative.parts:
                    raise TransferError(f"refusing S3 key that escapes the job folder: {key}")
                target = destination.joinpath(*relative.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                s3.download_file(bucket, key, str(target))
                count += 1
    except s3.exceptions.NoSuchBucket:
        raise TransferError(f"ClientError: the bucket of {uri} does not exist") from None
    if count == 0:
        raise TransferError(f"ClientError: no S3 objects found under S3 URL {uri}")
    return count


def upload_directory(s3: Any, source: Path, uri: str, extra_args: dict[str, str]) -> int:
    """Upload every file below ``source`` under ``uri``; the number of files."""
    bucket, prefix = parse_s3_uri(uri)
    prefix = prefix.rstrip("/")
    count = 0
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        relative = path.relative_to(source).as_posix()
        key = f"{prefix}/{relative}" if prefix else relative
        s3.upload_file(str(path), bucket, key, ExtraArgs=extra_args)
        count += 1
    return count


def upload_file(s3: Any, source: Path, uri: str, extra_args: dict[str, str]) -> None:
    bucket, key = parse_s3_uri(uri)
    s3.upload_file(str(source), bucket, key, ExtraArgs=extra_args)


def delete_object(s3: Any, uri: str) -> None:
    """Remove one object (S3 answers a missing key with success too)."""
    bucket, key = parse_s3_uri(uri)
    s3.delete_object(Bucket=bucket, Key=key)


def tar_directory(source: Path, archive: Path) -> None:
    """``model.tar.gz`` as SageMaker packs ``/opt/ml/model``: the folder's contents at the root."""
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(source.rglob("*")):
            tar.add(path, arcname=path.relative_to(source).as_posix(), recursive=False)
