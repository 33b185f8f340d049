"""Safe unpacking: hostile ZIPs are refused by name, non-photos are skipped and reported."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

import pytest
from sfm_stage_runner import zip_of

from splatflow.contract.sfm_settings import Settings
from splatflow.stages.harness import StageError
from splatflow.stages.sfm.unpack import find_input_zip, unpack_photos


def write_zip(path: Path, members: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> Path:
    path.write_bytes(zip_of(members, compression))
    return path


def test_photos_in_folders_with_any_letter_case_are_extracted(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "in.zip", {"a/B.JPG": b"1", "a/c/d.Jpeg": b"2", "e.png": b"3"})
    unpacked = unpack_photos(archive, tmp_path / "out", Settings())
    assert unpacked.names == ["a/B.JPG", "a/c/d.Jpeg", "e.png"]
    assert (tmp_path / "out" / "a" / "c" / "d.Jpeg").read_bytes() == b"2"
    assert unpacked.skipped == []


def test_non_photos_hidden_files_and_duplicates_are_skipped_with_a_reason(tmp_path: Path) -> None:
    members = {
        "x.jpg": b"1",
        "notes.txt": b"2",
        "__MACOSX/._x.jpg": b"3",
        ".hidden/y.jpg": b"4",
        "X.JPG": b"5",
    }
    unpacked = unpack_photos(write_zip(tmp_path / "in.zip", members), tmp_path / "out", Settings())
    assert unpacked.names == ["x.jpg"]
    reasons = {item.name: item.reason for item in unpacked.skipped}
    assert reasons == {
        "notes.txt": "not a .jpg, .jpeg or .png photo",
        "__MACOSX/._x.jpg": "hidden or system file",
        ".hidden/y.jpg": "hidden or system file",
        "X.JPG": "duplicate name in the ZIP",
    }


@pytest.mark.parametrize("name", ["../evil.jpg", "a/../../evil.jpg", "/etc/evil.jpg", "C:/evil.jpg", "..\\evil.jpg"])
def test_members_escaping_the_folder_are_refused(tmp_path: Path, name: str) -> None:
    archive = write_zip(tmp_path / "in.zip", {"ok.jpg": b"1", name: b"2"})
    with pytest.raises(StageError, match="points outside its folder"):
        unpack_photos(archive, tmp_path / "out", Settings())
    assert not (tmp_path / "evil.jpg").exists()
    assert not any((tmp_path / "out").rglob("*.jpg"))


def test_symbolic_links_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "in.zip"
    with zipfile.ZipFile(path, "w") as archive:
        link = zipfile.ZipInfo("link.jpg")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    with pytest.raises(StageError, match="symbolic link"):
        unpack_photos(path, tmp_path / "out", Settings())


def test_a_member_expanding_beyond_the_ratio_limit_is_refused(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "in.zip", {"bomb.jpg": bytes(1_000_000)}, zipfile.ZIP_DEFLATED)
    with pytest.raises(StageError, match="zip bomb"):
        unpack_photos(archive, tmp_path / "out", Settings(max_compression_ratio=50))


def test_a_highly_compressible_non_photo_is_skipped_not_refused(tmp_path: Path) -> None:
    members = {"photo.jpg": b"1", "flight-log.csv": b"0,0,0\n" * 200_000}
    archive = write_zip(tmp_path / "in.zip", members, zipfile.ZIP_DEFLATED)
    unpacked = unpack_photos(archive, tmp_path / "out", Settings())
    assert unpacked.names == ["photo.jpg"]
    assert [item.name for item in unpacked.skipped] == ["flight-log.csv"]
    assert not (tmp_path / "out" / "flight-log.csv").exists()


def test_the_limits_on_member_and_total_size_are_configurable(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "in.zip", {"a.jpg": bytes(600), "b.jpg": bytes(600)})
    with pytest.raises(StageError, match="more than the 0 MB limit"):
        unpack_photos(archive, tmp_path / "out", Settings(max_photo_bytes=500))
    with pytest.raises(StageError, match=r"more than the 0\.0 GB limit"):
        unpack_photos(archive, tmp_path / "out", Settings(max_zip_total_bytes=1000))
    with pytest.raises(StageError, match="2 photos, more than the 1 limit"):
        unpack_photos(archive, tmp_path / "out", Settings(max_photos=1))


def test_a_member_lying_about_its_size_is_refused_as_damaged(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "in.zip", {"a.jpg": b"0123456789" * 100})
    data = bytearray(path.read_bytes())
    # Shrink the declared size in both headers: zipfile then stops early and the CRC check fails.
    for header in (b"PK\x03\x04", b"PK\x01\x02"):
        start = data.index(header)
        offset = start + (22 if header == b"PK\x03\x04" else 24)
        data[offset : offset + 4] = (10).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    with pytest.raises(StageError, match="damaged"):
        unpack_photos(path, tmp_path / "out", Settings())


def test_a_zip_without_photos_is_refused(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "in.zip", {"readme.md": b"hi"})
    with pytest.raises(StageError, match="holds no photos"):
        unpack_photos(archive, tmp_path / "out", Settings())


def test_a_file_that_is_not_a_zip_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "in.zip"
    path.write_bytes(b"\xff\xd8\xff a JPEG, not a ZIP")
    with pytest.raises(StageError, match="not a valid ZIP"):
        unpack_photos(path, tmp_path / "out", Settings())


def test_the_one_zip_is_found_anywhere_under_the_input(tmp_path: Path) -> None:
    (tmp_path / "data" / "deep").mkdir(parents=True)
    (tmp_path / "data" / "deep" / "Survey.ZIP").write_bytes(b"")
    (tmp_path / "data" / "manifest.json").write_bytes(b"{}")
    assert find_input_zip(tmp_path) == tmp_path / "data" / "deep" / "Survey.ZIP"


def test_no_zip_or_several_zips_are_refused(tmp_path: Path) -> None:
    with pytest.raises(StageError, match="no ZIP file found"):
        find_input_zip(tmp_path)
    (tmp_path / "a.zip").write_bytes(b"")
    (tmp_path / "b.zip").write_bytes(b"")
    with pytest.raises(StageError, match=r"found 2: a\.zip, b\.zip"):
        find_input_zip(tmp_path)
