"""PlayCanvas SOG v2 bundles (``.sog``): a ZIP of ``meta.json`` and lossless WebP textures.

The layout is the one ``playcanvas/splat-transform`` writes and SuperSplat opens: per-splat
textures of ``texture_size(N)`` texels, row-major, texel ``i`` holding splat ``i``; an SH
centroids texture 64 centroids wide. Entries are stored uncompressed (the WebP payload is
already compressed, and the reference does the same). The quantisation itself lives in
``formats.sog_codec``; this module only moves bytes between arrays and the bundle.
"""

from __future__ import annotations

import io
import json
import math
import zipfile
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from splatflow import __version__
from splatflow.formats.ply import Splats, sh_rest_count
from splatflow.formats.sog_codec import (
    CODEBOOK_SIZE,
    MAX_PALETTE_SIZE,
    PALETTE_ROW,
    EncodedSplats,
    ShPalette,
    UInt8,
    UInt16,
    decode,
    texture_size,
)

SOG_VERSION = 2
META_NAME = "meta.json"
MEANS_FILES = ("means_l.webp", "means_u.webp")
SCALES_FILE = "scales.webp"
QUATS_FILE = "quats.webp"
SH0_FILE = "sh0.webp"
SHN_FILES = ("shN_centroids.webp", "shN_labels.webp")


class SogFormatError(ValueError):
    """The bundle is not a SOG v2 file we can read; the message names what is wrong."""


@dataclass(frozen=True)
class WebpEffort:
    """libwebp's lossless effort knobs (Pillow's ``method`` 0-6 and ``quality`` 0-100).

    Higher is smaller and slower; the defaults trade a few percent of size for a large
    saving of encode time on 1M-texel textures.
    """

    method: int = 4
    quality: int = 80


def _texture(rows: UInt8, width: int, height: int) -> UInt8:
    """Lay (N, 4) texel rows into an (H, W, 4) image, padding the tail with zeros."""
    image = np.zeros((height * width, 4), np.uint8)
    image[: len(rows)] = rows
    return image.reshape(height, width, 4)


def _rows(image: UInt8, count: int, name: str) -> UInt8:
    if image.shape[0] * image.shape[1] < count:
        raise SogFormatError(f"{name} holds {image.shape[0] * image.shape[1]} texels, fewer than {count}")
    return image.reshape(-1, 4)[:count]


def _rgba(*channels: Any) -> UInt8:
    """Stack per-texel channels into (N, 4) bytes (a scalar channel is broadcast)."""
    n = next(len(c) for c in channels if np.ndim(c))
    return np.stack([np.broadcast_to(np.asarray(c, np.uint8), (n,)) for c in channels], axis=1)


def _join_bytes(low: UInt8, high: UInt8) -> UInt16:
    """16-bit values stored as a low-byte and a high-byte texture channel."""
    return (low.astype(np.uint16) + high.astype(np.uint16) * 256).astype(np.uint16)


def _encode_webp(image: UInt8, effort: WebpEffort) -> bytes:
    buffer = io.BytesIO()
    # exact=True keeps the RGB of texels whose alpha is 0 (sh0's alpha is opacity: a fully
    # transparent splat would otherwise lose its colour labels).
    Image.fromarray(image, "RGBA").save(
        buffer, "WEBP", lossless=True, exact=True, method=effort.method, quality=effort.quality
    )
    return buffer.getvalue()


def _decode_webp(payload: bytes, name: str) -> UInt8:
    try:
        with Image.open(io.BytesIO(payload)) as image:
            if image.format != "WEBP":
                raise SogFormatError(f"{name} is not a WebP image")
            return np.asarray(image.convert("RGBA"))
    except (OSError, SyntaxError) as exc:
        raise SogFormatError(f"{name} is not a readable WebP image: {exc}") from None


def _textures(encoded: EncodedSplats) -> dict[str, UInt8]:
    """Every texture of the bundle, by file name."""
    width, height = texture_size(encoded.count)
    means_lo = (encoded.means_q & 0xFF).astype(np.uint8)
    means_hi = (encoded.means_q >> 8).astype(np.uint8)
    textures = {
        MEANS_FILES[0]: _texture(_rgba(*means_lo.T, 255), width, height),
        MEANS_FILES[1]: _texture(_rgba(*means_hi.T, 255), width, height),
        QUATS_FILE: _texture(encoded.quats_packed, width, height),
        SCALES_FILE: _texture(_rgba(*encoded.scale_labels.T, 255), width, height),
        SH0_FILE: _texture(_rgba(*encoded.sh0_labels.T, encoded.opacity_bytes), width, height),
    }
    palette = encoded.sh_palette
    if palette is not None:
        p, k, _ = palette.centroid_labels.shape
        rows = math.ceil(p / PALETTE_ROW)
        # Centroid c, coefficient j sits at x = (c % 64) * K + j, y = c // 64: the centroids in
        # row-major order, each spanning K consecutive texels.
        centroid_texels = _rgba(*palette.centroid_labels.reshape(p * k, 3).T, 255)
        textures[SHN_FILES[0]] = _texture(centroid_texels, PALETTE_ROW * k, rows)
        labels = palette.labels
        textures[SHN_FILES[1]] = _texture(_rgba(labels & 0xFF, labels >> 8, 0, 255), width, height)
    return textures


def _meta(encoded: EncodedSplats, extras: Mapping[str, Any] | None) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "version": SOG_VERSION,
        "asset": {"generator": f"splatflow v{__version__}"},
        "count": encoded.count,
        "antialias": encoded.antialiased,
        "means": {
            "mins": [float(v) for v in encoded.means_min],
            "maxs": [float(v) for v in encoded.means_max],
            "files": list(MEANS_FILES),
        },
        "scales": {"codebook": [float(v) for v in encoded.scale_codebook], "files": [SCALES_FILE]},
        "quats": {"files": [QUATS_FILE]},
        "sh0": {"codebook": [float(v) for v in encoded.sh0_codebook], "files": [SH0_FILE]},
    }
    if encoded.sh_palette is not None:
        meta["shN"] = {
            "count": encoded.sh_palette.size,
            "bands": encoded.sh_palette.bands,
            "codebook": [float(v) for v in encoded.sh_palette.codebook],
            "files": list(SHN_FILES),
        }
    if extras is not None:
        meta["extras"] = dict(extras)
    return meta


def sog_payloads(
    encoded: EncodedSplats,
    effort: WebpEffort | None = None,
    workers: int = 1,
    extras: Mapping[str, Any] | None = None,
) -> dict[str, bytes]:
    """``meta.json`` and every WebP texture of the splats, by file name.

    ``workers`` encodes that many textures at once (libwebp releases the GIL while it works).
    ``extras`` is application data for ``meta.json``'s ``extras`` (PlayCanvas's name for it: the
    engine attaches no meaning to it; our viewer reads its first view there).
    """
    if encoded.count == 0:
        raise SogFormatError("a SOG bundle needs at least one splat")
    chosen = effort or WebpEffort()
    textures = _textures(encoded)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        payloads = dict(
            zip(textures, pool.map(lambda image: _encode_webp(image, chosen), textures.values()), strict=True)
        )
    return {META_NAME: json.dumps(_meta(encoded, extras)).encode("utf-8"), **payloads}


def write_sog(
    encoded: EncodedSplats,
    path: Path,
    effort: WebpEffort | None = None,
    workers: int = 1,
    extras: Mapping[str, Any] | None = None,
) -> dict[str, int]:
    """Write the bundle atomically and return each entry's size in bytes (see ``sog_payloads``)."""
    payloads = sog_payloads(encoded, effort, workers, extras)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as bundle:
        for name, payload in payloads.items():
            bundle.writestr(name, payload)
    tmp.replace(path)
    return {name: len(payload) for name, payload in payloads.items()}


def write_sog_folder(
    encoded: EncodedSplats, folder: Path, effort: WebpEffort | None = None, workers: int = 1
) -> dict[str, int]:
    """The same entries as loose files in ``folder`` (SOG's unbundled form, ``meta.json`` beside
    its textures): the form a streamed bundle's ``lod-meta.json`` names for each chunk, which
    splat-transform 3.10.2 reads (``src/lib/readers/read-lod.ts``, ``readSogSource`` on each
    ``filenames`` entry) and the engine's ``SogParser`` loads (``canParse``: ``ext === "json"``)."""
    payloads = sog_payloads(encoded, effort, workers)
    folder.mkdir(parents=True, exist_ok=True)
    for name, payload in payloads.items():
        (folder / name).write_bytes(payload)
    return {name: len(payload) for name, payload in payloads.items()}


def _read_entries(path: Path) -> dict[str, bytes]:
    if path.name == META_NAME and path.is_file():
        # Unbundled: meta.json beside its textures.
        return {entry.name: entry.read_bytes() for entry in path.parent.iterdir() if entry.is_file()}
    try:
        with zipfile.ZipFile(path) as bundle:
            return {info.filename: bundle.read(info) for info in bundle.infolist() if not info.is_dir()}
    except FileNotFoundError:
        raise SogFormatError(f"{path.name} does not exist") from None
    except zipfile.BadZipFile as exc:
        raise SogFormatError(f"{path.name} is not a ZIP bundle: {exc}") from None


def _codebook(section: Mapping[str, Any], name: str) -> np.ndarray[Any, np.dtype[np.float32]]:
    values = np.asarray(section.get("codebook", []), dtype=np.float32)
    if values.shape != (CODEBOOK_SIZE,):
        raise SogFormatError(f"{name} codebook has {values.size} entries, expected {CODEBOOK_SIZE}")
    return values


def _load(entries: Mapping[str, bytes], section: Mapping[str, Any], index: int, name: str) -> UInt8:
    try:
        file_name = section["files"][index]
        payload = entries[file_name]
    except (KeyError, IndexError, TypeError):
        raise SogFormatError(f"the bundle lacks the {name} texture") from None
    return _decode_webp(payload, file_name)


def _read_palette(entries: Mapping[str, bytes], section: Mapping[str, Any], count: int) -> ShPalette:
    try:
        size, bands = int(section["count"]), int(section["bands"])
    except (KeyError, TypeError, ValueError):
        raise SogFormatError("meta.json shN lacks count or bands") from None
    if not 1 <= bands <= 3 or not 1 <= size <= MAX_PALETTE_SIZE:
        raise SogFormatError(f"meta.json shN has {bands} bands and {size} centroids; not a SOG palette")
    k = sh_rest_count(bands)
    centroids = _load(entries, section, 0, "shN centroids")
    if centroids.shape[1] != PALETTE_ROW * k or centroids.shape[0] * PALETTE_ROW < size:
        raise SogFormatError(f"shN centroids texture is {centroids.shape[1]}x{centroids.shape[0]}")
    labels_rgba = _rows(_load(entries, section, 1, "shN labels"), count, "shN labels")
    labels = _join_bytes(labels_rgba[:, 0], labels_rgba[:, 1])
    if labels.size and int(labels.max()) >= size:
        raise SogFormatError(f"shN labels reach {int(labels.max())}, past the {size}-entry palette")
    centroid_labels = centroids.reshape(-1, k, 4)[:size, :, :3]
    return ShPalette(
        labels=labels,
        centroid_labels=np.ascontiguousarray(centroid_labels),
        codebook=_codebook(section, "shN"),
    )


def read_encoded_sog(path: Path) -> EncodedSplats:
    """The quantised contents of a SOG v2 bundle (or of an unbundled ``meta.json``), texel order kept."""
    entries = _read_entries(path)
    if META_NAME not in entries:
        raise SogFormatError(f"{path.name} has no {META_NAME}")
    try:
        meta = json.loads(entries[META_NAME])
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SogFormatError(f"{META_NAME} is not valid JSON: {exc}") from None
    if not isinstance(meta, dict) or meta.get("version") != SOG_VERSION:
        raise SogFormatError(f"{path.name} is not SOG version {SOG_VERSION}")
    try:
        count = int(meta["count"])
        sections = {key: meta[key] for key in ("means", "scales", "quats", "sh0")}
        means_min = np.asarray(sections["means"]["mins"], np.float64)
        means_max = np.asarray(sections["means"]["maxs"], np.float64)
    except (KeyError, TypeError, ValueError):
        raise SogFormatError(f"{META_NAME} lacks count, means, scales, quats or sh0") from None
    if count < 1 or means_min.shape != (3,) or means_max.shape != (3,):
        raise SogFormatError(f"{META_NAME} has count {count} and means range {means_min}..{means_max}")
    means_lo = _rows(_load(entries, sections["means"], 0, "means_l"), count, "means_l")
    means_hi = _rows(_load(entries, sections["means"], 1, "means_u"), count, "means_u")
    scales = _rows(_load(entries, sections["scales"], 0, "scales"), count, "scales")
    sh0 = _rows(_load(entries, sections["sh0"], 0, "sh0"), count, "sh0")
    return EncodedSplats(
        means_q=_join_bytes(means_lo[:, :3], means_hi[:, :3]),
        means_min=means_min,
        means_max=means_max,
        quats_packed=_rows(_load(entries, sections["quats"], 0, "quats"), count, "quats").copy(),
        scale_labels=scales[:, :3].copy(),
        scale_codebook=_codebook(sections["scales"], "scales"),
        sh0_labels=sh0[:, :3].copy(),
        sh0_codebook=_codebook(sections["sh0"], "sh0"),
        opacity_bytes=sh0[:, 3].copy(),
        sh_palette=_read_palette(entries, meta["shN"], count) if "shN" in meta else None,
        antialiased=meta.get("antialias") is True,
    )


def read_sog(path: Path) -> Splats:
    """The splats a SOG v2 bundle decodes to (in its texel order)."""
    return decode(read_encoded_sog(path))
