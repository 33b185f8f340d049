"""Codebooks: 1-D codebooks for scalar attributes and the SH palette (vector quantisation).

Both are k-means, sized so a million splats take seconds on a few cores:

- A scalar codebook is a weighted 1-D k-means over a fine histogram of the values (O(N) to
  build, then iterations cost O(bins)). Bins are weighted by ``count ** density_exponent``:
  below 1 the sparse tails (the few very large splats, the saturated colours) keep entries
  of their own instead of being clipped to the nearest dense value, which costs little mean
  error and avoids visible outliers.
- The SH palette is a two-level (tree-structured) k-means: a coarse k-means splits the SH
  vectors into about sqrt(P) groups, then each group gets its own k-means with a share of
  the P entries proportional to its size. Assigning N vectors costs N x (coarse + group size)
  distances instead of N x P, which is what makes a 64k-entry palette affordable on a CPU.
  Entries of one group are contiguous, so similar SH get nearby palette numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch

Float32 = npt.NDArray[np.float32]
Int64 = npt.NDArray[np.int64]

HISTOGRAM_BINS = 8192
ASSIGN_CHUNK = 65536
"""Rows per distance block when assigning vectors to centroids (bounds peak memory)."""


def scalar_codebook(
    values: npt.ArrayLike, size: int = 256, density_exponent: float = 0.5, iterations: int = 40
) -> Float32:
    """``size`` sorted values to quantise ``values`` against (padded by repeating the last)."""
    flat = np.asarray(values, dtype=np.float64).reshape(-1)
    lo, hi = float(flat.min()), float(flat.max())
    if hi - lo <= 1e-12 * max(1.0, abs(lo)):
        return np.full(size, lo, np.float32)
    bins = np.minimum(((flat - lo) / (hi - lo) * HISTOGRAM_BINS).astype(np.int64), HISTOGRAM_BINS - 1)
    counts = np.bincount(bins, minlength=HISTOGRAM_BINS).astype(np.float64)
    sums = np.bincount(bins, weights=flat, minlength=HISTOGRAM_BINS)
    occupied = counts > 0
    centres = sums[occupied] / counts[occupied]
    weights = counts[occupied] ** density_exponent
    if len(centres) <= size:
        chosen = centres
    else:
        # Start from weighted quantiles, then Lloyd iterations on the weighted bin centres.
        cumulative = np.cumsum(weights) / weights.sum()
        chosen = np.interp((np.arange(size) + 0.5) / size, cumulative, centres)
        for _ in range(iterations):
            label = np.searchsorted((chosen[1:] + chosen[:-1]) * 0.5, centres)
            mass = np.bincount(label, weights=weights, minlength=size)
            moment = np.bincount(label, weights=weights * centres, minlength=size)
            updated = np.where(mass > 0, moment / np.where(mass > 0, mass, 1.0), chosen)
            updated.sort()
            if np.allclose(updated, chosen, rtol=0, atol=1e-9 * (hi - lo)):
                break
            chosen = updated
    codebook = np.sort(chosen).astype(np.float32)
    return np.concatenate([codebook, np.full(size - len(codebook), codebook[-1], np.float32)])


def _nearest(points: torch.Tensor, centroids: torch.Tensor) -> torch.Tensor:
    """Index of the nearest centroid of each point, in memory-bounded blocks."""
    centroid_norms = (centroids * centroids).sum(dim=1)
    labels = torch.empty(len(points), dtype=torch.int64)
    for start in range(0, len(points), ASSIGN_CHUNK):
        block = points[start : start + ASSIGN_CHUNK]
        # |x - c|^2 = |x|^2 - 2 x.c + |c|^2; |x|^2 is the same for every c.
        distances = centroid_norms - 2.0 * block @ centroids.T
        labels[start : start + ASSIGN_CHUNK] = distances.argmin(dim=1)
    return labels


def kmeans(
    points: torch.Tensor, k: int, iterations: int, generator: torch.Generator, fit_sample: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Lloyd's k-means: (centroids (k', D), labels (N,)), k' = min(k, N).

    Centroids start at distinct random points; an emptied cluster keeps its old centroid.
    ``fit_sample`` > 0 fits on at most that many random points (mini-batch style) and only
    assigns the rest at the end.
    """
    n = len(points)
    if n <= k:
        return points.clone(), torch.arange(n)
    fit = points
    if 0 < fit_sample < n:
        fit = points[torch.randperm(n, generator=generator)[:fit_sample]]
    centroids = fit[torch.randperm(len(fit), generator=generator)[:k]].clone()
    for _ in range(iterations):
        labels = _nearest(fit, centroids)
        # Cluster sums as a one-hot product: a dense matmul, far faster on CPU than a scatter.
        membership = torch.zeros(len(fit), k).scatter_(1, labels[:, None], 1.0)
        sums = membership.T @ fit
        counts = membership.sum(dim=0)
        filled = counts > 0
        centroids[filled] = sums[filled] / counts[filled, None]
    return centroids, _nearest(points, centroids)


@dataclass
class Palette:
    centroids: Float32
    """(P, D) palette entries."""
    labels: Int64
    """(N,) entry of each vector."""


def _shares(group_sizes: Int64, total: int) -> Int64:
    """Split ``total`` entries over groups in proportion to their sizes (each >= 1, <= size)."""
    exact = group_sizes / group_sizes.sum() * total
    shares = np.minimum(np.maximum(np.floor(exact).astype(np.int64), 1), group_sizes)
    spare = total - int(shares.sum())
    if spare > 0:
        # Largest remainders first, among groups that can still take an entry.
        candidates = np.flatnonzero(shares < group_sizes)
        ranked = candidates[np.argsort(-(exact - shares)[candidates], kind="stable")]
        shares[ranked[:spare]] += 1
    return shares


def sh_palette(vectors: Float32, size: int, iterations: int = 10, seed: int = 0, fit_per_entry: int = 24) -> Palette:
    """A palette of at most ``size`` entries for ``vectors`` (N, D), by two-level k-means."""
    generator = torch.Generator().manual_seed(seed)
    points = torch.from_numpy(np.ascontiguousarray(vectors, dtype=np.float32))
    n = len(points)
    if n <= size:
        return Palette(centroids=points.numpy().copy(), labels=np.arange(n, dtype=np.int64))
    coarse_k = min(math.ceil(math.sqrt(size)), size)
    _, coarse = kmeans(points, coarse_k, iterations, generator, fit_sample=coarse_k * 256)
    group_sizes = torch.bincount(coarse, minlength=coarse_k).numpy()
    shares = _shares(group_sizes, size)
    order = torch.argsort(coarse, stable=True)
    bounds = np.concatenate([[0], np.cumsum(group_sizes)])
    centroids: list[torch.Tensor] = []
    labels = torch.empty(n, dtype=torch.int64)
    offset = 0
    for group in np.flatnonzero(group_sizes):
        members = order[bounds[group] : bounds[group + 1]]
        group_centroids, group_labels = kmeans(
            points[members], int(shares[group]), iterations, generator, fit_sample=int(shares[group]) * fit_per_entry
        )
        labels[members] = group_labels + offset
        centroids.append(group_centroids)
        offset += len(group_centroids)
    return Palette(centroids=torch.cat(centroids).numpy(), labels=labels.numpy())
