"""Find the one input ZIP and unpack its photos safely.

A submission's ZIP comes from a stranger on the internet, so every member is checked before a
byte is written: no path escaping the destination (zip-slip), no symbolic links, no member or
total expanding beyond the configured limits (zip bomb). The declared sizes in a ZIP's directory
can lie, but Python's zipfile never inflates past them (and then fails the CRC check), so checking
the headers bounds what is written.
Members that are not photos (a README, ``__MACOSX`` resource forks) are skipped and reported.
"""

from __future__ import annotations

import logging
import shutil
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from splatflow.contract.sfm_settings import PHOTO_SUFFIXES, Settings
from splatflow.stages.harness import FailureCode, StageError

log = logging.getLogger(__name__)

COPY_CHUNK_BYTES = 1024 * 1024


@dataclass(frozen=True)
class SkippedFile:
    """A file left out of the reconstruction, and why; listed in the report."""

    name: str
    reason: str


@dataclass(frozen=True)
class UnpackedPhotos:
    """Photo files written under ``folder``, by their (POSIX) path inside the ZIP."""

    folder: Path
    names: list[str]
    skipped: list[SkippedFile]


def find_input_zip(input_dir: Path) -> Path:
    """The single ``.zip`` anywhere under ``input_dir``; none or several is the user's error."""
    found = sorted(p for p in input_dir.rglob("*") if p.is_file() and p.suffix.lower() == ".zip")
    if not found:
        raise StageError(
            FailureCode.NOT_AN_ARCHIVE, f"no ZIP file found in the input ({input_dir}); upload one ZIP of photos"
        )
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise StageError(FailureCode.NOT_AN_ARCHIVE, f"expected one ZIP file in the input, found {len(found)}: {names}")
    return found[0]


def unpack_photos(zip_path: Path, destination: Path, settings: Settings) -> UnpackedPhotos:
    """Extract the photos of ``zip_path`` into ``destination`` after checking every member."""
    if not zipfile.is_zipfile(zip_path):
        raise StageError(FailureCode.NOT_AN_ARCHIVE, f"{zip_path.name} is not a valid ZIP archive")
    destination.mkdir(parents=True, exist_ok=True)
    try:
        with zipfile.ZipFile(zip_path) as archive:
            members = [m for m in archive.infolist() if not m.is_dir()]
            for member in members:
                _refuse_hostile(member)
            photos, skipped = _select_photos(members)
            _refuse_oversized(photos, settings)
            for member in photos:
                _refuse_bomb(member, settings)
            written = 0
            for member in photos:
                written += _extract(archive, member, destination)
    except zipfile.BadZipFile as exc:
        raise StageError(FailureCode.NOT_AN_ARCHIVE, f"{zip_path.name} is damaged: {exc}") from None
    for item in skipped:
        log.warning("skipping %s: %s", item.name, item.reason)
    log.info("unpacked %d photos (%.1f MB) from %s", len(photos), written / 1e6, zip_path.name)
    return UnpackedPhotos(destination, [_member_path(m).as_posix() for m in photos], skipped)


def _member_path(member: zipfile.ZipInfo) -> PurePosixPath:
    return PurePosixPath(member.filename.replace("\\", "/"))


def _refuse_hostile(member: zipfile.ZipInfo) -> None:
    """Any member, photo or not, that tries to escape the folder marks the whole ZIP as hostile."""
    path = _member_path(member)
    if path.is_absolute() or ".." in path.parts or ":" in path.parts[0]:
        raise StageError(
            FailureCode.UNSAFE_ARCHIVE, f"refusing the ZIP: member '{member.filename}' points outside its folder"
        )
    if stat.S_ISLNK(member.external_attr >> 16):
        raise StageError(FailureCode.UNSAFE_ARCHIVE, f"refusing the ZIP: member '{member.filename}' is a symbolic link")


def _refuse_bomb(member: zipfile.ZipInfo, settings: Settings) -> None:
    """Only photos are extracted, so only they are held to the size limits."""
    if member.file_size > settings.max_photo_bytes:
        raise StageError(
            FailureCode.UNSAFE_ARCHIVE,
            f"refusing the ZIP: member '{member.filename}' expands to {member.file_size / 1e6:.0f} MB, "
            f"more than the {settings.max_photo_bytes / 1e6:.0f} MB limit",
        )
    ratio = member.file_size / max(member.compress_size, 1)
    if ratio > settings.max_compression_ratio:
        raise StageError(
            FailureCode.UNSAFE_ARCHIVE,
            f"refusing the ZIP: member '{member.filename}' expands {ratio:.0f} times "
            f"(limit {settings.max_compression_ratio:.0f}); this looks like a zip bomb",
        )


def _select_photos(members: list[zipfile.ZipInfo]) -> tuple[list[zipfile.ZipInfo], list[SkippedFile]]:
    photos: list[zipfile.ZipInfo] = []
    skipped: list[SkippedFile] = []
    seen: set[str] = set()
    for member in members:
        path = _member_path(member)
        if any(part.startswith(".") or part == "__MACOSX" for part in path.parts):
            skipped.append(SkippedFile(member.filename, "hidden or system file"))
        elif path.suffix.lower() not in PHOTO_SUFFIXES:
            skipped.append(SkippedFile(member.filename, "not a .jpg, .jpeg or .png photo"))
        elif path.as_posix().lower() in seen:
            skipped.append(SkippedFile(member.filename, "duplicate name in the ZIP"))
        else:
            seen.add(path.as_posix().lower())
            photos.append(member)
    return photos, skipped


def _refuse_oversized(photos: list[zipfile.ZipInfo], settings: Settings) -> None:
    if not photos:
        raise StageError(FailureCode.NO_PHOTOS, "the ZIP holds no photos (.jpg, .jpeg or .png)")
    if len(photos) > settings.max_photos:
        raise StageError(
            FailureCode.TOO_LARGE,
            f"the ZIP holds {len(photos)} photos, more than the {settings.max_photos} limit; "
            "split the survey into several submissions",
        )
    total = sum(m.file_size for m in photos)
    if total > settings.max_zip_total_bytes:
        raise StageError(
            FailureCode.TOO_LARGE,
            f"refusing the ZIP: its photos expand to {total / 1e9:.1f} GB, "
            f"more than the {settings.max_zip_total_bytes / 1e9:.1f} GB limit",
        )


def _extract(archive: zipfile.ZipFile, member: zipfile.ZipInfo, destination: Path) -> int:
    """Copy one member; Python's zipfile stops at the declared size and checks the CRC, so the
    header checks above bound what is written even when a ZIP lies about its sizes."""
    target = destination.joinpath(*_member_path(member).parts)
    target.parent.mkdir(parents=True, exist_ok=True)
    with archive.open(member) as source, target.open("wb") as sink:
        shutil.copyfileobj(source, sink, COPY_CHUNK_BYTES)
    return member.file_size
