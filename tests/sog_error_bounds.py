"""What a SOG round trip may change, worked out from the format rather than from our codec: the
bounds the codec tests and the encoder tests hold decoded splats to."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

QUAT_COMPONENT_ERROR = (0.5 / 255.0) * 2.0 / math.sqrt(2.0)
"""Largest error of a stored quaternion component (half a byte step, unscaled)."""


def means_error_bound(
    means: npt.NDArray[np.float32], lo: npt.NDArray[np.float64], hi: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Largest possible |decoded - original| per value: half a 16-bit step, through exp."""
    half_step = (hi - lo) / 65535.0 / 2.0
    bound: npt.NDArray[np.float64] = (np.abs(np.asarray(means, np.float64)) + 1.0) * np.expm1(half_step) + 1e-6
    return bound


def canonical_quats(quats: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Unit quaternions with the largest component positive: what a decoder gives back."""
    q = np.asarray(quats, dtype=np.float64)
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    largest = q[np.arange(len(q)), np.argmax(np.abs(q), axis=1)]
    return (q * np.where(largest < 0, -1.0, 1.0)[:, None]).astype(np.float32)
