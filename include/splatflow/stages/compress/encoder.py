"""Splats to SOG's quantised form: texel order, codebooks and the SH palette chosen here.

The bundle format and the per-attribute arithmetic live in ``formats.sog`` and
``formats.sog_codec``; this module makes the choices the format leaves open, and makes them
to shrink the WebP textures: a self-organising texel order and a palette numbered so that
neighbouring texels carry nearby labels.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from splatflow.contract.compress_settings import TexelOrderName
from splatflow.formats.ply import Splats
from splatflow.formats.sog_codec import (
    CODEBOOK_SIZE,
    MAX_PALETTE_SIZE,
    EncodedSplats,
    ShPalette,
    encode_means,
    encode_opacities,
    encode_quats,
    log_transform,
    quantise,
    texture_size,
)
from splatflow.stages.compress.codebooks import scalar_codebook, sh_palette
from splatflow.stages.compress.ordering import self_organising_order
from splatflow.stages.compress.orientation import canonical_orientation

log = logging.getLogger(__name__)

Float32 = npt.NDArray[np.float32]
Int64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class EncoderOptions:
    texel_order: TexelOrderName = "morton"
    """See ``Settings.texel_order``."""
    sh_palette_size: int = 0
    """SH palette entries; 0 picks ``default_palette_size`` for the splat count."""
    kmeans_iterations: int = 10
    seed: int = 0


SPLATS_PER_PALETTE_ENTRY = 16
"""Default palette: about one entry per 16 splats (a power of two, at least 1024)."""


def reference_palette_size(count: int) -> int:
    """The palette size splat-transform picks: 1024 x a power of two up to 64, by splat count."""
    return int(min(64, 2 ** math.floor(math.log2(count / 1024))) * 1024) if count >= 1 else 1


def default_palette_size(count: int) -> int:
    """The reference's size, capped at about ``count / 16`` entries.

    The reference gives 64k entries from 64k splats up, i.e. one entry per splat at 64k: the
    centroids then cost more than the labels they replace. Measured on a trained scene (65k
    splats, SH 1; this rule gives it 2048 entries): 64k entries 1.17 MB, 4096 entries
    0.93 MB, 1024 entries 0.89 MB, the decoded render 47.7, 47.3 and 46.5 dB against the
    original's; a 300k-splat SH-3 synthetic scene: 64k entries 7.16 MB at 46.4 dB, 16k (this
    rule) 5.11 MB at 44.7 dB.
    """
    reference = reference_palette_size(count)
    if count < 1024 * SPLATS_PER_PALETTE_ENTRY:
        return min(reference, 1024)
    return min(reference, 2 ** math.floor(math.log2(count / SPLATS_PER_PALETTE_ENTRY)))


def _standardised(columns: Float32) -> Float32:
    centred = columns - np.median(columns, axis=0)
    spread = np.percentile(np.abs(centred), 90, axis=0)
    return (centred / np.where(spread > 0, spread, 1.0)).astype(np.float32)


def sort_features(splats: Splats) -> Float32:
    """What neighbouring texels should share: position, size, colour and opacity.

    Position is the main key (weight 2): nearby splats tend to agree on everything else.
    Rotations are left out: q and -q are the same rotation, so their values are not a
    meaningful distance.
    """
    position = _standardised(log_transform(splats.means).astype(np.float32)) * 2.0
    appearance = _standardised(np.concatenate([splats.scales, splats.sh_dc, splats.opacities[:, None]], axis=1))
    return np.concatenate([position, appearance], axis=1)


def morton_order(means: Float32) -> Int64:
    """Z-order of the positions on a 2^21 grid per axis (the reference encoder's order)."""
    lo, hi = means.min(axis=0), means.max(axis=0)
    cells = ((means - lo) / np.where(hi > lo, hi - lo, 1.0) * (2**21 - 1)).astype(np.uint64)
    code = np.zeros(len(means), np.uint64)
    for bit in range(21):
        for axis in range(3):
            code |= ((cells[:, axis] >> np.uint64(bit)) & np.uint64(1)) << np.uint64(3 * bit + axis)
    return np.argsort(code, kind="stable").astype(np.int64)


def texel_order(splats: Splats, options: EncoderOptions) -> Int64:
    if options.texel_order == "sorted":
        width, _ = texture_size(splats.count)
        return self_organising_order(sort_features(splats), width, seed=options.seed)
    if options.texel_order == "morton":
        return morton_order(splats.means)
    return np.arange(splats.count, dtype=np.int64)


def _renumbered_by_texel(labels: Int64, entries: int) -> Int64:
    """A palette renumbering (old -> new) by the mean texel of each entry's splats.

    Labels then grow along the texture like the splats' positions do, which the WebP
    predictor turns into small residuals.
    """
    texel = np.arange(len(labels), dtype=np.float64)
    counts = np.bincount(labels, minlength=entries)
    mean_texel = np.bincount(labels, weights=texel, minlength=entries) / np.maximum(counts, 1)
    new_of_old = np.empty(entries, np.int64)
    new_of_old[np.argsort(mean_texel, kind="stable")] = np.arange(entries)
    return new_of_old


def encode_sh_rest(sh_rest: Float32, options: EncoderOptions) -> ShPalette | None:
    """The SH palette of splats already in texel order; ``None`` at SH degree 0."""
    n, k, _ = sh_rest.shape
    if k == 0:
        return None
    size = min(options.sh_palette_size or default_palette_size(n), MAX_PALETTE_SIZE)
    # Channel-major vectors (all red coefficients, then green, then blue), as the file has them.
    vectors = sh_rest.transpose(0, 2, 1).reshape(n, 3 * k)
    palette = sh_palette(vectors, size, iterations=options.kmeans_iterations, seed=options.seed)
    entries = len(palette.centroids)
    new_of_old = _renumbered_by_texel(palette.labels, entries)
    centroids = np.empty_like(palette.centroids)
    centroids[new_of_old] = palette.centroids
    centroid_values = centroids.reshape(entries, 3, k).transpose(0, 2, 1)
    codebook = scalar_codebook(centroid_values, CODEBOOK_SIZE)
    return ShPalette(
        labels=new_of_old[palette.labels].astype(np.uint16),
        centroid_labels=quantise(centroid_values, codebook),
        codebook=codebook,
    )


def reordered(splats: Splats, order: Int64) -> Splats:
    return Splats(
        means=splats.means[order],
        scales=splats.scales[order],
        quats=splats.quats[order],
        opacities=splats.opacities[order],
        sh_dc=splats.sh_dc[order],
        sh_rest=splats.sh_rest[order],
        antialiased=splats.antialiased,
    )


@dataclass
class SogEncoding:
    encoded: EncodedSplats
    order: Int64
    """``order[i]``: the input splat stored in texel ``i``."""
    splats: Splats
    """What was quantised: the input in texel order, each Gaussian in its canonical orientation
    (the same covariance; see ``orientation``). Compare decoded values with these."""


def encode_splats(splats: Splats, options: EncoderOptions | None = None) -> SogEncoding:
    """Quantise finite ``splats`` into SOG's form, in the chosen texel order."""
    chosen = options or EncoderOptions()
    if splats.count == 0:
        raise ValueError("no splats to encode")
    started = time.monotonic()
    scales, quats = canonical_orientation(splats.scales, splats.quats)
    canonical = replace(splats, scales=scales, quats=quats)
    order = texel_order(canonical, chosen)
    ordered = reordered(canonical, order)
    log.info("orientation and texel order (%s): %.1f s", chosen.texel_order, time.monotonic() - started)
    means_q, means_min, means_max = encode_means(ordered.means)
    scale_codebook = scalar_codebook(ordered.scales, CODEBOOK_SIZE)
    sh0_codebook = scalar_codebook(ordered.sh_dc, CODEBOOK_SIZE)
    started = time.monotonic()
    palette = encode_sh_rest(ordered.sh_rest, chosen)
    log.info("SH palette: %.1f s", time.monotonic() - started)
    encoded = EncodedSplats(
        means_q=means_q,
        means_min=means_min,
        means_max=means_max,
        quats_packed=encode_quats(ordered.quats),
        scale_labels=quantise(ordered.scales, scale_codebook),
        scale_codebook=scale_codebook,
        sh0_labels=quantise(ordered.sh_dc, sh0_codebook),
        sh0_codebook=sh0_codebook,
        opacity_bytes=encode_opacities(ordered.opacities),
        sh_palette=palette,
        antialiased=splats.antialiased,
    )
    return SogEncoding(encoded=encoded, order=order, splats=ordered)
