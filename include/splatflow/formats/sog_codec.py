"""Per-attribute quantisation of PlayCanvas SOG v2, both directions (numpy only).

SOG stores every splat attribute as bytes in lossless WebP textures. This module is the
arithmetic between float splats and those bytes, kept apart from the bundle I/O in
``formats.sog`` so the encoder can measure quantisation error without touching files, and so
the reader and the writer share exactly one definition of each mapping (the mappings follow
``playcanvas/splat-transform``'s ``write-sog.ts`` and ``read-sog.ts``).

Choices that the format leaves to the writer (which codebook, which SH palette, which texel
order) belong to the compression stage, not here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from splatflow.formats.ply import Splats

Float32 = npt.NDArray[np.float32]
Float64 = npt.NDArray[np.float64]
UInt8 = npt.NDArray[np.uint8]
UInt16 = npt.NDArray[np.uint16]

CODEBOOK_SIZE = 256
"""Every SOG codebook has 256 entries: a label is one byte."""
MAX_PALETTE_SIZE = 65536
"""SH palette labels are 16 bits (two bytes of the labels texture)."""
PALETTE_ROW = 64
"""Centroids per row of the SH centroids texture, fixed by the format."""
QUAT_TAG_BASE = 252
"""The quats texture's alpha is 252 + the index of the dropped (largest) component."""
OPACITY_LOGIT_CLAMP = 1e-6
"""Opacity bytes 0 and 255 decode to logit(1e-6) and logit(1 - 1e-6), as the reference does."""

_SQRT2 = math.sqrt(2.0)
_KEPT_COMPONENTS = np.array([[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2]])
"""For each dropped component (w, x, y or z), the three stored ones, in storage order."""


@dataclass
class ShPalette:
    """Higher-order SH as a palette: per-splat labels into ``P`` centroids, themselves bytes."""

    labels: UInt16
    """(N,) palette index of each splat."""
    centroid_labels: UInt8
    """(P, K, 3) codebook labels of each centroid's coefficients (K per channel)."""
    codebook: Float32
    """(256,) values the centroid labels index."""

    @property
    def size(self) -> int:
        return int(self.centroid_labels.shape[0])

    @property
    def bands(self) -> int:
        return math.isqrt(self.centroid_labels.shape[1] + 1) - 1


@dataclass
class EncodedSplats:
    """Splats in SOG's quantised form, row ``i`` being texel ``i`` (already in texel order)."""

    means_q: UInt16
    """(N, 3) 16-bit positions in log space, spanning ``means_min``..``means_max`` per axis."""
    means_min: Float64
    """(3,) minimum of ``sign(x) * ln(|x| + 1)`` per axis."""
    means_max: Float64
    """(3,) maximum of the same."""
    quats_packed: UInt8
    """(N, 4) smallest-three rotation: three bytes and the tag byte (252 + dropped index)."""
    scale_labels: UInt8
    """(N, 3) labels into ``scale_codebook`` (log scales)."""
    scale_codebook: Float32
    """(256,) log-scale values."""
    sh0_labels: UInt8
    """(N, 3) labels into ``sh0_codebook`` (``f_dc``)."""
    sh0_codebook: Float32
    """(256,) DC colour coefficients."""
    opacity_bytes: UInt8
    """(N,) ``sigmoid(opacity) * 255``."""
    sh_palette: ShPalette | None
    """Higher-order SH; ``None`` at SH degree 0."""
    antialiased: bool = False
    """Trained with antialiased rasterization (``meta.json``'s ``antialias``)."""

    @property
    def count(self) -> int:
        return int(self.means_q.shape[0])


def texture_size(count: int) -> tuple[int, int]:
    """(width, height) of the per-splat textures: both multiples of 4, width near sqrt(N)."""
    width = math.ceil(math.sqrt(count) / 4) * 4
    height = math.ceil(count / width / 4) * 4
    return width, height


def log_transform(values: Float32 | Float64) -> Float64:
    """``sign(x) * ln(|x| + 1)``: more precision near the origin, where scenes are centred."""
    v = np.asarray(values, dtype=np.float64)
    return np.sign(v) * np.log1p(np.abs(v))


def inverse_log_transform(values: Float64) -> Float64:
    return np.sign(values) * np.expm1(np.abs(values))


def encode_means(means: Float32) -> tuple[UInt16, Float64, Float64]:
    """16-bit positions over the per-axis range of the log-transformed means."""
    logged = log_transform(means)
    lo = logged.min(axis=0) if len(logged) else np.zeros(3)
    hi = logged.max(axis=0) if len(logged) else np.zeros(3)
    span = np.where(hi > lo, hi - lo, 1.0)
    q = np.rint((logged - lo) / span * 65535.0)
    return np.clip(q, 0, 65535).astype(np.uint16), lo, hi


def decode_means(means_q: UInt16, lo: Float64, hi: Float64) -> Float32:
    span = np.where(hi > lo, hi - lo, 1.0)
    logged = lo + span * (means_q.astype(np.float64) / 65535.0)
    return inverse_log_transform(logged).astype(np.float32)


def unit_quats(quats: Float32) -> Float64:
    """(N, 4) unit quaternions; a zero-length one has no rotation to keep and becomes the identity."""
    q = np.asarray(quats, dtype=np.float64)
    length = np.linalg.norm(q, axis=1, keepdims=True)
    return np.where(length > 0, q / np.where(length > 0, length, 1.0), np.array([1.0, 0.0, 0.0, 0.0]))


def encode_quats(quats: Float32) -> UInt8:
    """Smallest-three: drop the largest component (made positive), store the rest in bytes.

    A zero-length quaternion is stored as the identity (``unit_quats``).
    """
    q = unit_quats(quats)
    dropped = np.argmax(np.abs(q), axis=1)
    rows = np.arange(len(q))
    q = q * np.where(q[rows, dropped] < 0, -1.0, 1.0)[:, None]
    kept = np.take_along_axis(q, _KEPT_COMPONENTS[dropped], axis=1) * _SQRT2
    packed = np.empty((len(q), 4), np.uint8)
    packed[:, :3] = np.clip(np.rint(255.0 * (kept * 0.5 + 0.5)), 0, 255)
    packed[:, 3] = QUAT_TAG_BASE + dropped
    return packed


def decode_quats(packed: UInt8) -> Float32:
    """Unit quaternions (w, x, y, z); an invalid tag decodes to the identity, as the reference."""
    tags = packed[:, 3].astype(np.int64) - QUAT_TAG_BASE
    valid = (tags >= 0) & (tags <= 3)
    dropped = np.where(valid, tags, 0)
    kept = (packed[:, :3].astype(np.float64) / 255.0 * 2.0 - 1.0) / _SQRT2
    q = np.zeros((len(packed), 4), np.float64)
    np.put_along_axis(q, _KEPT_COMPONENTS[dropped], kept, axis=1)
    largest = np.sqrt(np.maximum(0.0, 1.0 - np.sum(kept * kept, axis=1)))
    np.put_along_axis(q, dropped[:, None], largest[:, None], axis=1)
    q[~valid] = (1.0, 0.0, 0.0, 0.0)
    return q.astype(np.float32)


def quantise(values: Float32, codebook: Float32) -> UInt8:
    """Label of the nearest codebook entry (``codebook`` sorted ascending, 256 entries)."""
    midpoints = (codebook[1:].astype(np.float64) + codebook[:-1]) * 0.5
    return np.searchsorted(midpoints, np.asarray(values, np.float64), side="right").astype(np.uint8)


def encode_opacities(logits: Float32) -> UInt8:
    alpha = 1.0 / (1.0 + np.exp(-np.asarray(logits, np.float64)))
    return np.clip(np.rint(alpha * 255.0), 0, 255).astype(np.uint8)


def decode_opacities(opacity_bytes: UInt8) -> Float32:
    alpha = np.clip(opacity_bytes.astype(np.float64) / 255.0, OPACITY_LOGIT_CLAMP, 1 - OPACITY_LOGIT_CLAMP)
    return np.log(alpha / (1.0 - alpha)).astype(np.float32)


def decode(encoded: EncodedSplats) -> Splats:
    """The float splats a SOG viewer sees."""
    n = encoded.count
    palette = encoded.sh_palette
    if palette is None:
        sh_rest = np.zeros((n, 0, 3), np.float32)
    else:
        centroids = palette.codebook[palette.centroid_labels]
        sh_rest = centroids[palette.labels.astype(np.int64)]
    return Splats(
        means=decode_means(encoded.means_q, encoded.means_min, encoded.means_max),
        scales=encoded.scale_codebook[encoded.scale_labels],
        quats=decode_quats(encoded.quats_packed),
        opacities=decode_opacities(encoded.opacity_bytes),
        sh_dc=encoded.sh0_codebook[encoded.sh0_labels],
        sh_rest=np.ascontiguousarray(sh_rest, dtype=np.float32),
        antialiased=encoded.antialiased,
    )
