"""Decode every photo before SfM: orientation, camera and GPS priors, and the working copy.

Decoding up front means a corrupt or truncated photo is reported by name and skipped instead of
surfacing as an obscure failure deep inside feature extraction. Each photo is turned upright
from its EXIF orientation (COLMAP ignores that tag) and downscaled to the working size, which is
also the resolution of the undistorted images handed to training. EXIF focal length and GPS are
read on the way, since a focal-length prior and GPS positions make matching and mapping both
faster and more reliable, and so is the gimbal's attitude from XMP (``camera_view``), which tells
footprint matching what ground a tilted camera sees.
"""

from __future__ import annotations

import logging
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from splatflow.contract.sfm_settings import Settings
from splatflow.stages.harness import Progress
from splatflow.stages.sfm.camera_view import CameraView, camera_view
from splatflow.stages.sfm.colmap_options import thread_count
from splatflow.stages.sfm.unpack import SkippedFile

log = logging.getLogger(__name__)

FILM_35MM_WIDTH_MM = 36.0
"""A 35 mm-equivalent focal length is relative to a 36 mm wide frame."""
DEFAULT_FOCAL_FACTOR = 1.2
"""COLMAP's guess (focal = 1.2 x longest side) for photos without a usable EXIF focal length."""
MM_PER_RESOLUTION_UNIT = {2: 25.4, 3: 10.0, 4: 1.0, 5: 0.001}
"""EXIF FocalPlaneResolutionUnit: inch, centimetre, millimetre, micrometre."""


@dataclass(frozen=True)
class GpsPosition:
    """WGS84 latitude and longitude in degrees, altitude in metres."""

    latitude: float
    longitude: float
    altitude: float


@dataclass(frozen=True)
class Photo:
    """One decoded photo, upright and downscaled, with what its EXIF says about the camera."""

    name: str
    width: int
    height: int
    camera_key: str
    """Photos sharing a key share one set of intrinsics (same body, lens, focal and image size)."""
    focal_px: float
    """Focal-length prior in pixels of the working image."""
    focal_from_exif: bool
    gps: GpsPosition | None
    view: CameraView | None = None
    """Where the camera pointed (the gimbal's pitch and heading, from XMP), when the photo says."""


@dataclass(frozen=True)
class DecodedPhotos:
    folder: Path
    photos: list[Photo]
    skipped: list[SkippedFile]


def decode_photos(source: Path, names: list[str], destination: Path, settings: Settings, stage: str) -> DecodedPhotos:
    """Decode ``names`` under ``source`` into upright working copies under ``destination``.

    One thread per core: Pillow releases the GIL while it decodes, resizes and encodes, so the
    photos are decoded side by side (results keep the order of ``names``).
    """
    progress = Progress(stage, "decoding photos", len(names))
    photos: list[Photo] = []
    skipped: list[SkippedFile] = []
    with ThreadPoolExecutor(max_workers=thread_count(settings)) as pool:
        outcomes = pool.map(lambda name: _try_decode(source, name, destination, settings), names)
        for name, outcome in zip(names, outcomes, strict=True):
            if isinstance(outcome, Photo):
                photos.append(outcome)
            else:
                skipped.append(_skip(name, outcome))
            progress.advance()
    return DecodedPhotos(destination, photos, skipped)


def _try_decode(source: Path, name: str, destination: Path, settings: Settings) -> Photo | str:
    """The decoded photo, or why it cannot be used."""
    try:
        return _decode_one(source, name, destination, settings)
    except Image.DecompressionBombError as exc:
        # A file of a few kilobytes can declare a vast image; Pillow refuses it before
        # allocating (past twice MAX_IMAGE_PIXELS, ~179 MP), far beyond any aerial camera.
        return f"has too many pixels to be decoded safely ({exc})"
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as exc:
        # Pillow reports truncated or garbled files as any of these.
        return f"cannot be decoded ({exc})"


def _skip(name: str, reason: str) -> SkippedFile:
    log.warning("skipping %s: %s", name, reason)
    return SkippedFile(name, reason)


def _decode_one(source: Path, name: str, destination: Path, settings: Settings) -> Photo:
    with Image.open(source / name) as original:
        exif = original.getexif()
        xmp = original.info.get("xmp")
        original_size = original.size
        # JPEG can decode straight to a reduced scale: far faster than decoding 4000 px and shrinking.
        original.draft("RGB", (settings.image_max_size, settings.image_max_size))
        upright = ImageOps.exif_transpose(original)
        upright.load()  # forces the full decode, so a truncated file fails here
    upright = upright.convert("RGB")
    upright.thumbnail((settings.image_max_size, settings.image_max_size), Image.Resampling.LANCZOS)
    target = destination / name
    target.parent.mkdir(parents=True, exist_ok=True)
    upright.save(target, quality=settings.jpeg_quality)
    width, height = upright.size
    focal_px, from_exif = focal_prior(exif, original_size, max(width, height))
    return Photo(
        name=name,
        width=width,
        height=height,
        camera_key=_camera_key(exif, width, height),
        focal_px=focal_px,
        focal_from_exif=from_exif,
        gps=gps_position(exif),
        view=camera_view(xmp),
    )


def _exif_ifd(exif: Image.Exif) -> dict[int, object]:
    return dict(exif.get_ifd(ExifTags.IFD.Exif))


def _text(value: object) -> str:
    return str(value).replace("\x00", "").strip() if value is not None else ""


def _camera_key(exif: Image.Exif, width: int, height: int) -> str:
    details = _exif_ifd(exif)
    make = _text(exif.get(ExifTags.Base.Make))
    model = _text(exif.get(ExifTags.Base.Model))
    focal = _number(details.get(ExifTags.Base.FocalLength))
    focal_text = f"{focal:.2f}mm" if focal else "unknown-focal"
    return f"{make} {model} {focal_text} {width}x{height}".strip()


def _number(value: object) -> float | None:
    """A positive finite EXIF number, or None for missing, zero or garbled values."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def focal_prior(exif: Image.Exif, original_size: tuple[int, int], working_max_side: int) -> tuple[float, bool]:
    """Focal length in working-image pixels, and whether EXIF gave it (else COLMAP's default guess).

    The 35 mm-equivalent focal length is used first (it needs no sensor size); otherwise the
    physical focal length with the focal-plane resolution. Both are independent of rotation,
    because they scale with the longest side. The focal-plane resolution counts pixels of the
    image the camera wrote, whose size EXIF keeps in ``ExifImageWidth``/``ExifImageHeight``: a
    photo downscaled afterwards with its EXIF kept (the seneca survey: 4000 px written, 1600 px
    delivered) would otherwise get a focal length 2.5 times too long.
    """
    details = _exif_ifd(exif)
    focal_35mm = _number(details.get(ExifTags.Base.FocalLengthIn35mmFilm))
    if focal_35mm:
        return focal_35mm / FILM_35MM_WIDTH_MM * working_max_side, True
    focal_mm = _number(details.get(ExifTags.Base.FocalLength))
    plane_x = _number(details.get(ExifTags.Base.FocalPlaneXResolution))
    unit = details.get(ExifTags.Base.FocalPlaneResolutionUnit, 2)
    mm_per_unit = MM_PER_RESOLUTION_UNIT.get(unit) if isinstance(unit, int) else None
    if focal_mm and plane_x and mm_per_unit:
        written_width = _number(details.get(ExifTags.Base.ExifImageWidth))
        written_height = _number(details.get(ExifTags.Base.ExifImageHeight))
        written_side = max(written_width, written_height) if written_width and written_height else max(original_size)
        scale = working_max_side / written_side
        return focal_mm * plane_x / mm_per_unit * scale, True
    return DEFAULT_FOCAL_FACTOR * working_max_side, False


def gps_position(exif: Image.Exif) -> GpsPosition | None:
    """The photo's GPS position, or None when the tags are missing or unusable."""
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    try:
        latitude = _degrees(gps[ExifTags.GPS.GPSLatitude], gps.get(ExifTags.GPS.GPSLatitudeRef, "N"), "S")
        longitude = _degrees(gps[ExifTags.GPS.GPSLongitude], gps.get(ExifTags.GPS.GPSLongitudeRef, "E"), "W")
        altitude = float(gps.get(ExifTags.GPS.GPSAltitude, 0.0))
    except (KeyError, TypeError, ValueError, ZeroDivisionError, IndexError):
        return None
    if gps.get(ExifTags.GPS.GPSAltitudeRef) in (1, b"\x01"):
        altitude = -altitude  # below sea level
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180) or not math.isfinite(altitude):
        return None
    if latitude == 0 and longitude == 0:
        return None  # a receiver without a fix writes zeros
    return GpsPosition(latitude, longitude, altitude)


def _degrees(value: object, reference: object, negative_reference: str) -> float:
    degrees, minutes, seconds = (float(part) for part in value)  # type: ignore[attr-defined]
    sign = -1.0 if _text(reference).upper() == negative_reference else 1.0
    return sign * (degrees + minutes / 60 + seconds / 3600)
