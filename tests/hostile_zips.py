"""Hostile and broken ZIP submissions, each with a word its failure reason must contain.

Shared by the DAG tests (the whole pipeline in processes) and the image tests (the SfM stage in
its image), which must fail each one the same way.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

SAMPLE_PHOTOS = Path(__file__).resolve().parent.parent / "data" / "sample" / "brighton_beach"


def zip_entries(
    entries: dict[str, bytes], symlink: str | None = None, compression: int = zipfile.ZIP_DEFLATED
) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, body in entries.items():
            archive.writestr(name, body)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = 0o120777 << 16
            archive.writestr(info, "/etc/passwd")
    return buffer.getvalue()


def noise_jpegs(count: int) -> dict[str, bytes]:
    """Unrelated pictures: random noise shares no features with anything."""
    rng = np.random.default_rng(7)
    photos = {}
    for index in range(count):
        buffer = io.BytesIO()
        Image.fromarray(rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)).save(buffer, "JPEG")
        photos[f"noise_{index}.jpg"] = buffer.getvalue()
    return photos


def sample_photos(count: int) -> list[Path]:
    return sorted(SAMPLE_PHOTOS.glob("*.JPG"))[:count]


def _one_photo() -> bytes:
    return zip_entries({f"flight/{photo.name}": photo.read_bytes() for photo in sample_photos(1)})


ZIPS: dict[str, tuple[Callable[[], bytes], str]] = {
    "empty file": (lambda: b"", "is not a valid ZIP"),
    "not a ZIP": (lambda: b"%PDF-1.7 this is a document, not photos", "is not a valid ZIP"),
    "ZIP without photos": (lambda: zip_entries({"notes.txt": b"flight log", "data.csv": b"1,2"}), "no photos"),
    "one photo": (_one_photo, "photo"),
    "zip slip": (lambda: zip_entries({"../../escape.jpg": b"x"}), "outside its folder"),
    "symlink member": (lambda: zip_entries({"a.jpg": b"x"}, symlink="b.jpg"), "symbolic link"),
    "zip bomb": (lambda: zip_entries({"bomb.jpg": bytes(64 * 1024 * 1024)}), "zip bomb"),
    "all photos corrupt": (lambda: zip_entries({f"p{i}.jpg": b"\xff\xd8\xff\xe0broken" for i in range(5)}), "photo"),
    "photos that do not overlap": (lambda: zip_entries(noise_jpegs(6)), "photo"),
}
