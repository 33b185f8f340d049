"""What ``make demo`` uploads: the bundled sample, or the user's own photos (a ZIP, or a folder to zip)."""

from __future__ import annotations

import io
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from splatflow.local.demo import SAMPLE, SAMPLE_KEY, Upload, sample_zip
from splatflow.pipeline.submission import parse_submission


def _names(body: bytes) -> list[str]:
    return zipfile.ZipFile(io.BytesIO(body)).namelist()


def test_without_photos_the_demo_uploads_the_bundled_sample() -> None:
    upload = Upload.of(None)
    assert upload.key == SAMPLE_KEY
    assert _names(upload.body) == [f"brighton_beach/{photo.name}" for photo in sorted(SAMPLE.glob("*.JPG"))]


def test_a_zip_of_photos_is_uploaded_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "flight.zip"
    path.write_bytes(sample_zip())

    upload = Upload.of(path)

    assert (upload.key, upload.body) == ("demo/flight.zip", path.read_bytes())


def test_a_zip_named_otherwise_goes_up_as_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "flight.ZIP.download"
    path.write_bytes(sample_zip())

    assert Upload.of(path).key == "demo/flight.ZIP.zip"


@pytest.mark.parametrize("name", ["site 7", "survey #2", "what?", "100% done"])
def test_the_run_names_the_uploaded_object_whatever_the_folder_is_called(tmp_path: Path, name: str) -> None:
    folder = tmp_path / name
    folder.mkdir()
    shutil.copy(sorted(SAMPLE.glob("*.JPG"))[0], folder)
    upload = Upload.of(folder)

    submission = parse_submission(upload.conf("splatflow-uploads"), ["splatflow-uploads"])

    assert submission.input is not None
    assert submission.input.key == upload.key == f"demo/{name}.zip"


def test_a_folder_is_zipped_with_its_photos_only(tmp_path: Path) -> None:
    folder = tmp_path / "site 7"
    folder.mkdir()
    photos = sorted(SAMPLE.glob("*.JPG"))[:2]
    for photo in photos:
        shutil.copy(photo, folder / photo.name.lower().replace(".jpg", ".jpeg"))
    (folder / "notes.txt").write_text("not a photo")

    upload = Upload.of(folder)

    assert upload.key == "demo/site 7.zip"
    assert _names(upload.body) == sorted(f"site 7/{photo.name.lower().replace('.jpg', '.jpeg')}" for photo in photos)


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda tmp: tmp / "missing.zip", "neither a ZIP of photos nor a folder"),
        (lambda tmp: _written(tmp / "photos.zip", b"not a zip"), "neither a ZIP of photos nor a folder"),
        (lambda tmp: _folder(tmp / "empty"), "holds no photos"),
    ],
)
def test_anything_else_is_refused_naming_it(tmp_path: Path, make: Callable[[Path], Path], words: str) -> None:
    path = make(tmp_path)
    with pytest.raises(ValueError, match=words) as refused:
        Upload.of(path)
    assert str(path.name) in str(refused.value)


def _written(path: Path, body: bytes) -> Path:
    path.write_bytes(body)
    return path


def _folder(path: Path) -> Path:
    path.mkdir()
    return path
