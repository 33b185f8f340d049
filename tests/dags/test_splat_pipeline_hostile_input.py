"""Hostile and broken submissions through the whole DAG: a clear failure email, nothing published.

Each case is a real run of ``splat_pipeline`` on the embedded runtime; the failure is caught by
the input check or by the SfM stage's own checks, and the user gets one email naming the step
and the cause in plain words, never a stack trace.

Odd but genuine photo sets (mixed resolutions, a 50-megapixel photo) must still make a splat:
SfM scales every photo to its working size first. A photo declaring more pixels than Pillow
decodes safely (a few kilobytes can declare 200 megapixels) is skipped by name, not a crash.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hostile_zips import ZIPS, sample_photos, zip_entries
from PIL import Image
from pipeline_support import (
    UPLOADS,
    WORK,
    html_of,
    mail_to,
    pipeline_runtime,
    run_pipeline,
    s3_of,
    upload,
)

from splatflow.local.runtime import EmbeddedRuntime
from splatflow.pipeline.submission import run_prefix

__all__ = ["pipeline_runtime"]

pytestmark = pytest.mark.slow


def _published(runtime: EmbeddedRuntime, run_id: str) -> list[str]:
    prefix = run_prefix(WORK, run_id).key
    listing = s3_of(runtime).list_objects_v2(Bucket=WORK, Prefix=prefix).get("Contents", [])
    return [item["Key"].removeprefix(prefix) for item in listing]


@pytest.mark.parametrize("case", list(ZIPS))
def test_hostile_zip_fails_photo_alignment_with_a_named_cause(pipeline_runtime: EmbeddedRuntime, case: str) -> None:
    make, cause = ZIPS[case]
    address = f"hostile.{abs(hash(case)) % 10**8}@example.com"
    url = upload(pipeline_runtime, f"hostile/{case.replace(' ', '-')}.zip", make())

    run = run_pipeline({"s3_url": url, "email": address})

    assert run.state == "failed"
    messages = mail_to(pipeline_runtime, address)
    assert len(messages) == 1 and "could not be made" in messages[0]["Subject"]
    html = html_of(messages[0])
    assert ("photo alignment (SfM)" in html and cause in html.lower()) or cause in html
    assert "Traceback" not in html and 'File "' not in html
    published = _published(pipeline_runtime, run.run_id)
    assert not any(key.startswith(("sfm/", "train/", "compress/")) for key in published), published
    manifest = json.loads(
        s3_of(pipeline_runtime)
        .get_object(Bucket=WORK, Key=run_prefix(WORK, run.run_id).key + "manifest.json")["Body"]
        .read()
    )
    assert manifest["status"] == "failed" and manifest["failure"]["stage"] == "sfm"


BAD_SUBMISSIONS: dict[str, tuple[dict[str, str], str]] = {
    "s3 URL missing a slash": ({"s3_url": "s3:/splatflow-uploads/a.zip"}, "s3_url"),
    "a web page, not S3": ({"s3_url": "https://example.com/photos.zip"}, "s3_url"),
    "bucket name against S3's rules": ({"s3_url": "s3://Bad_Bucket/a.zip"}, "bucket"),
    "presigned URL": ({"s3_url": f"https://{UPLOADS}.s3.amazonaws.com/a.zip?X-Amz-Signature=abc"}, "s3_url"),
    "bucket off the allow-list": ({"s3_url": "s3://another-team/a.zip"}, "another-team"),
    "steps needing a model without one": ({"steps": "compress_only"}, "model_url"),
}


@pytest.mark.parametrize("case", list(BAD_SUBMISSIONS))
def test_bad_submission_fails_the_input_check(pipeline_runtime: EmbeddedRuntime, case: str) -> None:
    params, named = BAD_SUBMISSIONS[case]
    address = f"bad.{abs(hash(case)) % 10**8}@example.com"
    run = run_pipeline({"email": address, **params})
    assert run.state == "failed"
    messages = mail_to(pipeline_runtime, address)
    assert len(messages) == 1
    html = html_of(messages[0])
    assert "input check" in html and named.lower() in html.lower()


def test_header_injecting_email_address_sends_nothing(pipeline_runtime: EmbeddedRuntime) -> None:
    before = set(pipeline_runtime.smtp.messages())
    run = run_pipeline({"s3_url": f"s3://{UPLOADS}/a.zip", "email": "a@b.c\r\nBcc: victim@example.com"})
    assert run.state == "failed"
    assert set(pipeline_runtime.smtp.messages()) == before, "no mail may go to an injected address"


def _rescaled(photo: Path, scale: float) -> bytes:
    """The photo resized by ``scale``, its EXIF (camera, focal length) kept as an editor would."""
    with Image.open(photo) as original:
        size = (round(original.width * scale), round(original.height * scale))
        resized = original.resize(size, Image.Resampling.BICUBIC)
        buffer = io.BytesIO()
        resized.save(buffer, "JPEG", quality=90, exif=original.getexif())
    return buffer.getvalue()


def _mixed_resolutions() -> dict[str, bytes]:
    """A third of the photos at twice the size, two at half, the rest as taken."""
    photos = sample_photos(12)
    scales = {0: 2.0, 3: 2.0, 6: 2.0, 9: 2.0, 4: 0.5, 10: 0.5}
    return {f"flight/{p.name}": _rescaled(p, scales.get(i, 1.0)) for i, p in enumerate(photos)}


BIG_PHOTO = "flight/DJI_big.JPG"
PIXEL_BOMB = "flight/pixel_bomb.png"


def _oversized_photos() -> dict[str, bytes]:
    """One photo at 50 megapixels (9440 x 5310) and a 24 kB PNG declaring 200 megapixels."""
    photos = sample_photos(12)
    entries = {f"flight/{p.name}": p.read_bytes() for p in photos[1:]}
    entries[BIG_PHOTO] = _rescaled(photos[0], 14.75)
    bomb = io.BytesIO()
    Image.new("1", (20_000, 10_000)).save(bomb, "PNG")
    entries[PIXEL_BOMB] = bomb.getvalue()
    return entries


GENUINE_SETS: dict[str, Callable[[], dict[str, bytes]]] = {
    "mixed resolutions": _mixed_resolutions,
    "a 50-megapixel photo and a 200-megapixel pixel bomb": _oversized_photos,
}


@pytest.mark.parametrize("case", list(GENUINE_SETS))
def test_odd_but_genuine_photo_set_still_makes_a_splat(pipeline_runtime: EmbeddedRuntime, case: str) -> None:
    entries = GENUINE_SETS[case]()
    address = f"genuine.{abs(hash(case)) % 10**8}@example.com"
    zip_name = f"{case.replace(' ', '-')}.zip"
    # Stored, not deflated: the PNG bomb's zeros would otherwise trip the ZIP-bomb ratio check first.
    url = upload(pipeline_runtime, f"genuine/{zip_name}", zip_entries(entries, compression=zipfile.ZIP_STORED))

    run = run_pipeline({"s3_url": url, "email": address, "preset": "preview"})

    assert run.state == "success"
    assert [m["Subject"] for m in mail_to(pipeline_runtime, address)] == [f"Your 3D splat of {zip_name} is ready"]
    prefix = run_prefix(WORK, run.run_id).key
    report = json.loads(s3_of(pipeline_runtime).get_object(Bucket=WORK, Key=prefix + "sfm/report.json")["Body"].read())
    skipped = {item["name"]: item["reason"] for item in report["skipped"]}
    if PIXEL_BOMB in entries:
        assert "too many pixels" in skipped.pop(PIXEL_BOMB), "the bomb is skipped by name, not a crash"
    assert skipped == {}, "every genuine photo is placed in the model, whatever its resolution"
    assert report["photos"]["received"] == len(entries)
    assert report["photos"]["registered"] == len(entries) - (PIXEL_BOMB in entries)
