"""Niantic's ``.spz`` (version 3): the splat format of the SPZ ecosystem, Cesium and three.js tools.

Written here with numpy and gzip because no PyPI package fits: ``spz`` 0.0.1 ships no wheel,
``gsply`` brings numba, ``alspz`` is bindings for one tiler. The layout follows Niantic's
``load-spz.cc`` as ``@playcanvas/splat-transform`` 3.10.2 reads it (its ``parseSpz``): a gzip
stream of a 16-byte header (magic ``NGSP``, version, splat count, SH degree, fractional bits,
flags) and then, splat after splat within each block, positions (three 24-bit fixed-point
integers), opacities (sigmoid, 8 bits), DC colours (8 bits, scale 0.15), log scales (8 bits,
``(s + 10) * 16``), rotations (version 3's smallest-three: 2 bits naming the largest component,
three 10-bit signed others) and SH coefficients (8 bits, coefficient-major with RGB inner,
degree 1 in 5-bit and higher degrees in 4-bit steps). The values stay in the ``.ply``'s frame,
as splat-transform's own ``.ply`` to ``.spz`` conversion keeps them.

splat-transform 3.10.2 reads versions 2 to 4; CesiumJS 1.145 decodes SPZ with
``@spz-loader/core`` (Niantic's library in WebAssembly) and is the reader of the same bytes
inside the 3D Tiles content (``formats.glb``). ``SPZ_BOUNDS`` states what the quantisation
may change; the tests hold the independent reader to it.
"""

from __future__ import annotations

import gzip
import math
import struct
from pathlib import Path

import numpy as np
import numpy.typing as npt

from splatflow.formats.ply import Splats, sh_rest_count

MAGIC = 0x5053474E
VERSION = 3
HEADER = struct.Struct("<IIIBBBB")
FLAG_ANTIALIASED = 0x1
COLOR_SCALE = 0.15
MAX_FRACTIONAL_BITS = 12
"""Niantic's default: positions in steps of 1/4096 (0.24 mm in a metre frame)."""
SH1_BUCKET, SH_REST_BUCKET = 8, 16
"""5 bits for degree 1, 4 bits above (Niantic's ``sh1Bits`` and ``shRestBits``)."""
SQRT1_2 = math.sqrt(0.5)
QUAT_MAX = (1 << 9) - 1

SPZ_BOUNDS: dict[str, float] = {
    "means": 0.5 / (1 << MAX_FRACTIONAL_BITS),
    "scales": 1 / 32,
    "opacity": 0.5 / 255,
    "sh_dc": 0.5 / (COLOR_SCALE * 255),
    "quats": 2.0e-3,
    "sh_rest_degree_1": (SH1_BUCKET / 2 + 0.5) / 128,
    "sh_rest_higher": (SH_REST_BUCKET / 2 + 0.5) / 128,
}
"""The most each attribute may move (absolute; positions half a step of 12 fractional bits,
coarser only for splats past 2048 units from the origin (``fractional_bits``); opacity as a sigmoid, rotations per unit
quaternion component up to sign), for values inside the format's ranges: log scales in
[-10, 5.9], DC colours within +-3.3, SH coefficients within +-0.99."""

Array = npt.NDArray[np.float32]


class SpzFormatError(ValueError):
    """The bytes are not an ``.spz`` we can read; the message names what is wrong."""


def fractional_bits(means: Array) -> int:
    """The finest position step whose 24-bit range still holds the farthest splat."""
    extent = float(np.abs(means).max()) if means.size else 0.0
    if extent == 0.0:
        return MAX_FRACTIONAL_BITS
    bits = math.floor(math.log2((2**23 - 1) / extent))
    if bits < 0:
        raise ValueError(f"a splat lies {extent:.0f} units from the origin, past the .spz position range")
    return min(MAX_FRACTIONAL_BITS, bits)


def _bytes(values: npt.NDArray[np.float64]) -> npt.NDArray[np.uint8]:
    return np.clip(np.round(values), 0, 255).astype(np.uint8)


def _pack_quats(quats: Array) -> npt.NDArray[np.uint8]:
    """Smallest-three: the largest component dropped (made positive), the others in 9 bits + sign."""
    q = quats.astype(np.float64)
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    xyzw = q[:, [1, 2, 3, 0]]
    largest = np.argmax(np.abs(xyzw), axis=1)
    rows = np.arange(len(q))
    negate = xyzw[rows, largest] < 0
    packed = largest.astype(np.uint32)
    for component in range(4):
        keep = largest != component
        value = xyzw[:, component]
        sign = ((value < 0) ^ negate).astype(np.uint32)
        magnitude = np.floor(QUAT_MAX * np.abs(value) / SQRT1_2 + 0.5).astype(np.uint32)
        packed = np.where(keep, (packed << 10) | (sign << 9) | np.minimum(magnitude, QUAT_MAX), packed)
    return packed.astype("<u4").view(np.uint8).reshape(-1, 4)


def _unpack_quats(packed: npt.NDArray[np.uint8]) -> Array:
    word = packed.reshape(-1, 4).copy().view("<u4").reshape(-1).astype(np.uint32)
    largest = word >> 30
    xyzw = np.zeros((len(word), 4), dtype=np.float64)
    for component in (3, 2, 1, 0):
        keep = largest != component
        magnitude = (word & QUAT_MAX).astype(np.float64)
        negative = (word >> 9) & 1
        value = SQRT1_2 * magnitude / QUAT_MAX * np.where(negative == 1, -1.0, 1.0)
        xyzw[:, component] = np.where(keep, value, 0.0)
        word = np.where(keep, word >> 10, word)
    rows = np.arange(len(largest))
    xyzw[rows, largest] = np.sqrt(np.maximum(0.0, 1.0 - np.sum(xyzw**2, axis=1)))
    return xyzw[:, [3, 0, 1, 2]].astype(np.float32)


def _quantise_sh(values: npt.NDArray[np.float64], bucket: int) -> npt.NDArray[np.uint8]:
    q = np.round(values * 128.0).astype(np.int64) + 128
    q = (q + bucket // 2) // bucket * bucket
    return np.clip(q, 0, 255).astype(np.uint8)


def encode_spz(splats: Splats) -> bytes:
    """The gzip-compressed ``.spz`` bytes of ``splats``."""
    count, degree = splats.count, splats.sh_degree
    bits = fractional_bits(splats.means)
    fixed = np.round(splats.means.astype(np.float64) * (1 << bits)).astype(np.int64)
    positions = (fixed & 0xFFFFFF).astype("<u4").view(np.uint8).reshape(count, 3, 4)[:, :, :3]
    alphas = _bytes(255.0 / (1.0 + np.exp(-splats.opacities.astype(np.float64))))
    colors = _bytes(splats.sh_dc.astype(np.float64) * (COLOR_SCALE * 255.0) + 0.5 * 255.0)
    scales = _bytes((splats.scales.astype(np.float64) + 10.0) * 16.0)
    rotations = _pack_quats(splats.quats)
    rest = splats.sh_rest.astype(np.float64)
    sh = np.empty(rest.shape, dtype=np.uint8)
    if degree > 0:
        sh[:, :3] = _quantise_sh(rest[:, :3], SH1_BUCKET)
        sh[:, 3:] = _quantise_sh(rest[:, 3:], SH_REST_BUCKET)
    flags = FLAG_ANTIALIASED if splats.antialiased else 0
    header = HEADER.pack(MAGIC, VERSION, count, degree, bits, flags, 0)
    body = b"".join(block.tobytes() for block in (positions, alphas, colors, scales, rotations, sh.reshape(count, -1)))
    return gzip.compress(header + body, compresslevel=9, mtime=0)


def write_spz(splats: Splats, path: Path) -> int:
    """Write ``splats`` to ``path`` as ``.spz``; returns the file's size in bytes."""
    data = encode_spz(splats)
    path.write_bytes(data)
    return len(data)


def decode_spz(data: bytes) -> Splats:
    """The splats of ``.spz`` bytes (versions 2 and 3), as :func:`encode_spz` quantised them."""
    try:
        raw = gzip.decompress(data)
    except (OSError, EOFError) as exc:
        raise SpzFormatError(f"not a gzip-compressed .spz file ({exc})") from None
    if len(raw) < HEADER.size:
        raise SpzFormatError("the .spz file ends inside its header")
    magic, version, count, degree, bits, flags, _ = HEADER.unpack_from(raw)
    if magic != MAGIC:
        raise SpzFormatError("not an .spz file (its header lacks the NGSP magic number)")
    if version not in (2, 3):
        raise SpzFormatError(f".spz version {version} is not supported (2 and 3 are)")
    if degree > 3:
        raise SpzFormatError(f".spz SH degree {degree} is not supported (0 to 3 are)")
    rest = sh_rest_count(degree)
    quat_bytes = 3 if version == 2 else 4
    sizes = [9, 1, 3, 3, quat_bytes, 3 * rest]
    if len(raw) < HEADER.size + count * sum(sizes):
        raise SpzFormatError(f"the .spz file is cut short: {count} splats need {count * sum(sizes)} bytes")
    blocks, offset = [], HEADER.size
    for size in sizes:
        blocks.append(np.frombuffer(raw, np.uint8, count * size, offset).reshape(count, size))
        offset += count * size
    positions, alphas, colors, scales, rotations, sh = blocks
    padded = np.zeros((count, 3, 4), dtype=np.uint8)
    padded[:, :, :3] = positions.reshape(count, 3, 3)
    fixed = padded.view("<u4").reshape(count, 3).astype(np.int64)
    fixed = np.where(fixed & 0x800000, fixed - (1 << 24), fixed)
    if version == 2:
        xyz = rotations.astype(np.float64) / 127.5 - 1.0
        w = np.sqrt(np.maximum(0.0, 1.0 - np.sum(xyz**2, axis=1, keepdims=True)))
        quats = np.hstack([w, xyz]).astype(np.float32)
    else:
        quats = _unpack_quats(rotations)
    alpha = np.clip(alphas[:, 0].astype(np.float64) / 255.0, 1e-6, 1 - 1e-6)
    return Splats(
        means=(fixed / float(1 << bits)).astype(np.float32),
        scales=(scales.astype(np.float32) / 16.0 - 10.0),
        quats=quats,
        opacities=np.log(alpha / (1.0 - alpha)).astype(np.float32),
        sh_dc=((colors.astype(np.float32) / 255.0 - 0.5) / COLOR_SCALE),
        sh_rest=((sh.astype(np.float32) - 128.0) / 128.0).reshape(count, rest, 3),
        antialiased=bool(flags & FLAG_ANTIALIASED),
    )


def read_spz(path: Path) -> Splats:
    return decode_spz(path.read_bytes())
