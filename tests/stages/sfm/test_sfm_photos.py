"""Photo decoding: upright working copies, EXIF focal and GPS priors, corrupt files skipped."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import ExifTags, Image

from splatflow.contract.sfm_settings import Settings
from splatflow.stages.sfm.photos import GpsPosition, decode_photos, focal_prior, gps_position

EXIF_ORIENTATION_ROTATE_90_CW = 6


def make_exif(**tags: object) -> Image.Exif:
    exif = Image.Exif()
    details = exif.get_ifd(ExifTags.IFD.Exif)
    for name, value in tags.items():
        if name in ExifTags.Base.__members__:
            tag = ExifTags.Base[name]
            target = exif if tag in (ExifTags.Base.Make, ExifTags.Base.Model, ExifTags.Base.Orientation) else details
            target[tag] = value
    return exif


def save_photo(path: Path, size: tuple[int, int], exif: Image.Exif | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new("RGB", size, (200, 10, 10))
    image.paste((10, 10, 200), (0, 0, size[0] // 2, size[1]))  # left half blue: shows rotation
    image.save(path, exif=exif if exif is not None else Image.Exif())


def test_photos_are_turned_upright_from_exif_orientation_and_downscaled(tmp_path: Path) -> None:
    exif = make_exif(Orientation=EXIF_ORIENTATION_ROTATE_90_CW, FocalLengthIn35mmFilm=24)
    save_photo(tmp_path / "in" / "rotated.jpg", (800, 600), exif)
    decoded = decode_photos(tmp_path / "in", ["rotated.jpg"], tmp_path / "out", Settings(image_max_size=400), "sfm")
    (photo,) = decoded.photos
    assert (photo.width, photo.height) == (300, 400)
    with Image.open(tmp_path / "out" / "rotated.jpg") as working:
        assert working.size == (300, 400)
        # Rotated clockwise, the blue left half becomes the top half.
        top, bottom = working.getpixel((150, 50)), working.getpixel((150, 350))
    assert isinstance(top, tuple) and isinstance(bottom, tuple)
    assert top[2] > 150 and bottom[0] > 150
    assert photo.focal_px == pytest.approx(24 / 36 * 400)
    assert photo.focal_from_exif


def test_corrupt_and_truncated_photos_are_skipped_by_name(tmp_path: Path) -> None:
    save_photo(tmp_path / "good.jpg", (64, 48))
    save_photo(tmp_path / "whole.jpg", (640, 480))
    (tmp_path / "truncated.jpg").write_bytes((tmp_path / "whole.jpg").read_bytes()[:700])
    (tmp_path / "garbage.png").write_bytes(b"not a png at all")
    names = ["good.jpg", "truncated.jpg", "garbage.png"]
    decoded = decode_photos(tmp_path, names, tmp_path / "out", Settings(), "sfm")
    assert [photo.name for photo in decoded.photos] == ["good.jpg"]
    assert [item.name for item in decoded.skipped] == ["truncated.jpg", "garbage.png"]
    assert all("cannot be decoded" in item.reason for item in decoded.skipped)


def test_photos_from_two_cameras_get_different_camera_keys(tmp_path: Path) -> None:
    save_photo(tmp_path / "a.jpg", (400, 300), make_exif(Make="DJI", Model="FC300S", FocalLength=3.61))
    save_photo(tmp_path / "b.jpg", (400, 300), make_exif(Make="DJI", Model="FC300S", FocalLength=3.61))
    save_photo(tmp_path / "c.jpg", (400, 300), make_exif(Make="DJI", Model="FC6310", FocalLength=8.8))
    decoded = decode_photos(tmp_path, ["a.jpg", "b.jpg", "c.jpg"], tmp_path / "out", Settings(), "sfm")
    keys = [photo.camera_key for photo in decoded.photos]
    assert keys[0] == keys[1] == "DJI FC300S 3.61mm 400x300"
    assert keys[2] == "DJI FC6310 8.80mm 400x300"


def test_focal_prior_from_the_focal_plane_resolution_scales_to_the_working_size() -> None:
    # 8.8 mm lens, 5472 px over a 13.2 mm sensor (as a DJI Phantom 4 Pro; unit 4 is millimetres),
    # working size 1368 px.
    exif = make_exif(FocalLength=8.8, FocalPlaneXResolution=5472 / 13.2, FocalPlaneResolutionUnit=4)
    focal, from_exif = focal_prior(exif, (5472, 3648), 1368)
    assert focal == pytest.approx(8.8 / 13.2 * 1368, rel=1e-3)
    assert from_exif


def test_focal_prior_of_a_photo_downscaled_with_its_exif_counts_the_pixels_the_camera_wrote() -> None:
    # The seneca survey's Canon: 4.3 mm, 16393 px per inch of sensor at the 4000 px it wrote;
    # delivered at 1600 px with the EXIF kept, worked on at 800 px.
    exif = make_exif(
        FocalLength=4.3,
        FocalPlaneXResolution=16393.44,
        FocalPlaneResolutionUnit=2,
        ExifImageWidth=4000,
        ExifImageHeight=3000,
    )
    focal, from_exif = focal_prior(exif, (1600, 1200), 800)
    assert focal == pytest.approx(4.3 * 16393.44 / 25.4 * 800 / 4000, rel=1e-6)
    assert from_exif


def test_focal_prior_falls_back_to_colmaps_default_without_exif() -> None:
    assert focal_prior(Image.Exif(), (1000, 800), 500) == (pytest.approx(600.0), False)
    assert focal_prior(make_exif(FocalLength=0.0), (1000, 800), 500)[1] is False


def gps_exif(lat: tuple[float, ...], lat_ref: str, lon: tuple[float, ...], lon_ref: str, alt: float) -> Image.Exif:
    exif = Image.Exif()
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps.update(
        {
            ExifTags.GPS.GPSLatitude: lat,
            ExifTags.GPS.GPSLatitudeRef: lat_ref,
            ExifTags.GPS.GPSLongitude: lon,
            ExifTags.GPS.GPSLongitudeRef: lon_ref,
            ExifTags.GPS.GPSAltitude: alt,
        }
    )
    return exif


def test_gps_is_read_with_hemisphere_signs() -> None:
    exif = gps_exif((46.0, 50.0, 33.3855), "N", (91.0, 59.0, 40.4156), "W", 198.3)
    position = gps_position(exif)
    assert position == GpsPosition(pytest.approx(46.842607), pytest.approx(-91.994560), 198.3)  # type: ignore[arg-type]


def test_missing_or_zero_gps_gives_no_position() -> None:
    assert gps_position(Image.Exif()) is None
    assert gps_position(gps_exif((0.0, 0.0, 0.0), "N", (0.0, 0.0, 0.0), "E", 0.0)) is None


def test_gps_survives_a_round_trip_through_a_saved_photo(tmp_path: Path) -> None:
    exif = gps_exif((55.0, 41.0, 53.4), "N", (13.0, 11.0, 43.4), "E", 37.0)
    save_photo(tmp_path / "p.jpg", (64, 48), exif)
    (photo,) = decode_photos(tmp_path, ["p.jpg"], tmp_path / "out", Settings(), "sfm").photos
    assert photo.gps is not None
    assert photo.gps.latitude == pytest.approx(55.698167, abs=1e-6)
    assert photo.gps.longitude == pytest.approx(13.195389, abs=1e-6)
