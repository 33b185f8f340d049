"""Coarser levels of detail made from the model itself: neighbouring Gaussians merged into one.

Each coarser level groups the splats of the level below by a cubic grid (one cell of an octree
level) and replaces each group by the single Gaussian with the same weighted moments: the
weighted mean of the centres, and the weighted mean of the covariances plus the spread of the
centres about that mean (moment matching, as splat-transform 3.10.2's own decimation merges
pairs, ``src/lib/decimate/moment-match.ts``). A splat alone in its cell is kept as it is. So a
coarse level draws the same surfaces, with the same colours, from fewer and larger splats; a
blind subsample would instead leave holes where the dropped splats were.

The weight of a splat is its opacity times its footprint (the product of its two largest
scales): a faint or tiny splat moves the merged one little. The merged opacity keeps the
group's opacity-weighted footprint (``sum(alpha_i * area_i) / area``, at most 0.99), so a
patch of opaque splats stays opaque and a haze of faint ones stays faint. Colour (DC and the
higher SH bands) is the weighted mean.

The grid's cell is searched (by bisection of its logarithm) so each level holds about
``1 / LEVEL_RATIO`` of the splats of the level below: the number of occupied cells falls
monotonically as the cell grows.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
import numpy.typing as npt

from splatflow.formats.ply import Splats
from splatflow.formats.sog_codec import unit_quats
from splatflow.stages.compress.orientation import rotation_matrices

log = logging.getLogger(__name__)

Float64 = npt.NDArray[np.float64]
Int64 = npt.NDArray[np.int64]

LEVEL_RATIO = 4
"""Each level holds about a quarter of the splats of the level below (a surface sampled at
twice the spacing)."""
MAX_OPACITY = 0.99
CELL_SEARCH_STEPS = 14


def rotations_of(quats: npt.ArrayLike) -> Float64:
    """(N, 3, 3) rotations of (N, 4) quaternions, w x y z (normalised here)."""
    return rotation_matrices(unit_quats(np.asarray(quats, np.float32)))


def quaternions_of(rotations: Float64) -> Float64:
    """(N, 4) unit quaternions (w x y z, w >= 0) of (N, 3, 3) proper rotations (Shepperd's method)."""
    m = rotations
    trace = m[:, 0, 0] + m[:, 1, 1] + m[:, 2, 2]
    diagonal = np.stack([trace, m[:, 0, 0], m[:, 1, 1], m[:, 2, 2]], axis=1)
    pick = np.argmax(diagonal, axis=1)
    q = np.empty((len(m), 4))
    for case in range(4):
        rows = pick == case
        r = m[rows]
        if case == 0:
            s = 2 * np.sqrt(1 + r[:, 0, 0] + r[:, 1, 1] + r[:, 2, 2])
            q[rows] = np.stack(
                [s / 4, (r[:, 2, 1] - r[:, 1, 2]) / s, (r[:, 0, 2] - r[:, 2, 0]) / s, (r[:, 1, 0] - r[:, 0, 1]) / s], 1
            )
        else:
            i = case - 1
            j, k = (i + 1) % 3, (i + 2) % 3
            s = 2 * np.sqrt(1 + r[:, i, i] - r[:, j, j] - r[:, k, k])
            part = np.empty((len(r), 4))
            part[:, 0] = (r[:, k, j] - r[:, j, k]) / s
            part[:, 1 + i] = s / 4
            part[:, 1 + j] = (r[:, j, i] + r[:, i, j]) / s
            part[:, 1 + k] = (r[:, k, i] + r[:, i, k]) / s
            q[rows] = part
    q *= np.where(q[:, :1] < 0, -1.0, 1.0)
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def covariances(splats: Splats) -> Float64:
    """(N, 3, 3) covariances ``R diag(s)^2 R^T``."""
    rotation = rotations_of(splats.quats)
    variance = np.exp(2 * splats.scales.astype(np.float64))
    return np.einsum("nij,nj,nkj->nik", rotation, variance, rotation)


def _footprints(log_scales: Float64) -> Float64:
    """The product of each splat's two largest scales: its area seen face on, up to pi."""
    ordered = np.sort(np.exp(log_scales), axis=1)
    return np.asarray(ordered[:, 1] * ordered[:, 2], np.float64)


def _cells(means: Float64, cell: float) -> Int64:
    """A group number for each splat: the grid cell of side ``cell`` it falls in."""
    grid = np.floor((means - means.min(axis=0)) / cell).astype(np.int64)
    keys = (grid[:, 0] * (grid[:, 1].max() + 1) + grid[:, 1]) * (grid[:, 2].max() + 1) + grid[:, 2]
    return np.unique(keys, return_inverse=True)[1].reshape(-1)


def cell_for(means: Float64, target: int) -> float:
    """The grid cell whose occupied cells come nearest ``target`` (at most it), by bisection."""
    extent = float(np.ptp(means, axis=0).max()) or 1.0
    low, high = np.log(extent * 1e-6), np.log(extent * 2)
    for _ in range(CELL_SEARCH_STEPS):
        middle = (low + high) / 2
        occupied = int(_cells(means, float(np.exp(middle))).max()) + 1
        if occupied > target:
            low = middle
        else:
            high = middle
    return float(np.exp(high))


def merge_groups(splats: Splats, groups: Int64) -> Splats:
    """One Gaussian per group, moment-matched to the group's weighted Gaussians."""
    count = int(groups.max()) + 1
    alpha = 1.0 / (1.0 + np.exp(-splats.opacities.astype(np.float64)))
    area = _footprints(splats.scales.astype(np.float64))
    weight = np.maximum(alpha * area, 1e-30)
    total = np.bincount(groups, weight, count)

    def mean(values: Float64) -> Float64:
        flat = values.reshape(len(values), -1)
        if flat.shape[1] == 0:
            return np.zeros((count, *values.shape[1:]))
        columns = [np.bincount(groups, weight * flat[:, c], count) for c in range(flat.shape[1])]
        return (np.stack(columns, axis=1) / total[:, None]).reshape((count, *values.shape[1:]))

    means = mean(splats.means.astype(np.float64))
    offsets = splats.means.astype(np.float64) - means[groups]
    spread = covariances(splats) + np.einsum("ni,nj->nij", offsets, offsets)
    covariance = mean(spread)
    covariance = (covariance + np.swapaxes(covariance, 1, 2)) / 2
    variances, axes = np.linalg.eigh(covariance)
    axes[:, :, 0] *= np.sign(np.linalg.det(axes))[:, None]
    log_scales = 0.5 * np.log(np.maximum(variances, 1e-20))
    merged_area = _footprints(log_scales)
    opacity = np.bincount(groups, alpha * area, count) / np.maximum(merged_area, 1e-30)
    # A lone splat keeps its own opacity; a merged one is capped below fully opaque.
    most = np.full(count, MAX_OPACITY)
    np.maximum.at(most, groups, alpha)
    opacity = np.clip(opacity, 1e-4, most)
    return replace(
        splats,
        means=means.astype(np.float32),
        scales=log_scales.astype(np.float32),
        quats=quaternions_of(axes).astype(np.float32),
        opacities=np.log(opacity / (1 - opacity)).astype(np.float32),
        sh_dc=mean(splats.sh_dc.astype(np.float64)).astype(np.float32),
        sh_rest=mean(splats.sh_rest.astype(np.float64)).astype(np.float32),
    )


def coarser_level(splats: Splats) -> Splats:
    """The next level: about ``1 / LEVEL_RATIO`` as many splats, merged cell by cell."""
    means = splats.means.astype(np.float64)
    groups = _cells(means, cell_for(means, max(1, splats.count // LEVEL_RATIO)))
    return merge_groups(splats, groups)


def detail_levels(splats: Splats, coarsest_splats: int, max_levels: int) -> list[Splats]:
    """Level 0 (``splats`` itself), then coarser levels until one holds ``coarsest_splats`` or
    fewer, or ``max_levels`` are made."""
    levels = [splats]
    while levels[-1].count > coarsest_splats and len(levels) < max_levels:
        levels.append(coarser_level(levels[-1]))
        log.info("level %d: %d splats", len(levels) - 1, levels[-1].count)
    return levels
