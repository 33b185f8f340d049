"""A robust 2-D similarity (scale, turn, shift) from levelled camera positions to GPS east-north.

Once the model stands upright, the horizontal GPS positions fix the rest of its placement but
for height. pycolmap's similarity estimators are 3-D, and on points that all lie in one plane
their rotation about the in-plane axes is left to chance, so the 2-D fit is done here: in complex
numbers a similarity is ``t = a * s + b`` (``a``: scale and turn, ``b``: shift), two photos
determine it, and least squares on the inliers is closed-form (Umeyama's estimate in 2-D).
RANSAC over pairs of photos keeps a photo placed far from its GPS from dragging the fit.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np

RANSAC_PAIRS = 500
"""Photo pairs tried (all of them when the survey has fewer)."""


@dataclass(frozen=True)
class Similarity2d:
    """``target = scale_turn * source + shift``, points as complex numbers x + iy."""

    scale_turn: complex
    shift: complex

    def apply(self, points: np.ndarray) -> np.ndarray:
        return np.asarray(self.scale_turn * points + self.shift)


def least_squares(source: np.ndarray, target: np.ndarray) -> Similarity2d:
    """The similarity minimising the squared distances (needs two distinct source points)."""
    source_mean, target_mean = source.mean(), target.mean()
    centred = source - source_mean
    scale_turn = complex(np.vdot(centred, target - target_mean) / np.vdot(centred, centred).real)
    return Similarity2d(scale_turn, complex(target_mean - scale_turn * source_mean))


def robust_fit(source: np.ndarray, target: np.ndarray, max_error: float, seed: int) -> Similarity2d | None:
    """The least-squares similarity on the largest set of points it brings within ``max_error``."""
    pairs = list(combinations(range(len(source)), 2))
    rng = np.random.default_rng(seed)
    if len(pairs) > RANSAC_PAIRS:
        pairs = [pairs[index] for index in rng.choice(len(pairs), RANSAC_PAIRS, replace=False)]
    best = np.zeros(len(source), dtype=bool)
    for first, second in pairs:
        if source[first] == source[second]:
            continue
        candidate = least_squares(source[[first, second]], target[[first, second]])
        inliers = np.abs(candidate.apply(source) - target) <= max_error
        if inliers.sum() > best.sum():
            best = inliers
    if best.sum() < 2:
        return None
    # Refit on the inliers until they stop changing (local optimisation, as LO-RANSAC does).
    for _ in range(5):
        fit = least_squares(source[best], target[best])
        inliers = np.abs(fit.apply(source) - target) <= max_error
        if inliers.sum() < 2 or np.array_equal(inliers, best):
            break
        best = inliers
    return least_squares(source[best], target[best])
