"""One (rotation, scales) pair per Gaussian out of its 24 equal ones, chosen to compress well.

A Gaussian's shape is its covariance ``R diag(s)^2 R^T``. Swapping two of its local axes (and
flipping one so the frame stays right-handed), or turning it half a turn about one of them,
changes ``R`` and the order of ``s`` but not the covariance: the 24 rotations of a cube give
24 pairs that draw the same splat. A trained model holds an arbitrary one of them, which
costs bits in both textures. This module picks, losslessly:

- the local axes ordered by size, largest first, so the scales texture holds (largest,
  middle, smallest), each channel narrower than an arbitrary axis's sizes; and then
- of the four half-turns that keep that order, the rotation whose ``w`` is its largest
  component, so smallest-three drops ``w`` for every splat and the quaternion texture's tag
  byte is a constant instead of two bits of noise.

On a 1M-splat synthetic scene this takes the bundle from 16.00 to 15.49 MB, and on a trained
scene from 0.907 to 0.891 MB, with the covariances equal to float precision. Colour is not
touched: spherical harmonics are evaluated in world directions, not in the splat's frame.
"""

from __future__ import annotations

import itertools

import numpy as np
import numpy.typing as npt

from splatflow.formats.sog_codec import unit_quats

Float32 = npt.NDArray[np.float32]
Float64 = npt.NDArray[np.float64]


def quaternion_product(a: Float64, b: Float64) -> Float64:
    """Hamilton product of (..., 4) quaternions (w, x, y, z): the rotation ``a`` after ``b``."""
    aw, ax, ay, az = np.moveaxis(a, -1, 0)
    bw, bx, by, bz = np.moveaxis(b, -1, 0)
    return np.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        axis=-1,
    )


def rotation_matrices(quats: Float64) -> Float64:
    """(N, 3, 3) rotation matrices of unit quaternions (w, x, y, z)."""
    w, x, y, z = quats.T
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], axis=-1),
            np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], axis=-1),
            np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], axis=-1),
        ],
        axis=1,
    )


def _cube_rotations() -> Float64:
    """The 24 unit quaternions (up to sign) of the rotations that map the axes onto the axes."""
    candidates = set()
    half = np.sqrt(0.5)
    for values in ([1.0, 0, 0, 0], [half, half, 0, 0], [0.5, 0.5, 0.5, 0.5]):
        for arrangement in itertools.permutations(values):
            for signs in itertools.product((1.0, -1.0), repeat=4):
                q = np.array(arrangement) * signs
                q = q * (1.0 if q[np.flatnonzero(q)[0]] > 0 else -1.0)  # q and -q: one rotation
                candidates.add(tuple(np.round(q, 12)))
    return np.array(sorted(candidates))


def _axis_order_code(orders: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """A number per (..., 3) axis order: ``9 * order[0] + 3 * order[1] + order[2]``."""
    return np.asarray(orders[..., 0] * 9 + orders[..., 1] * 3 + orders[..., 2], np.int64)


def _turns_by_axis_order() -> Float64:
    """(27, 4, 4): at ``_axis_order_code(order)``, the four cube rotations that apply ``order``.

    Post-multiplying a rotation by any of those four quaternions makes new local axis ``j`` the
    old axis ``order[j]`` (up to its direction). Codes that are not a permutation stay zero.
    """
    rotations = _cube_rotations()
    matrices = rotation_matrices(rotations)
    table = np.zeros((27, 4, 4))
    for order in itertools.permutations(range(3)):
        takes = np.all(np.abs(matrices[:, list(order), [0, 1, 2]]) > 0.5, axis=1)
        table[_axis_order_code(np.array(order))] = rotations[takes]
    return table


_TURNS = _turns_by_axis_order()


def canonical_orientation(scales: Float32, quats: Float32) -> tuple[Float32, Float32]:
    """(scales, unit quats) of the same Gaussians: axes largest first, ``w`` largest and positive.

    ``quats`` need not be normalised; a zero quaternion is read as the identity
    (``unit_quats``, as ``encode_quats`` reads it).
    """
    q = unit_quats(quats)
    order = np.argsort(-np.asarray(scales, np.float64), axis=1, kind="stable")
    turns = _TURNS[_axis_order_code(order)]
    candidates = quaternion_product(q[:, None, :], turns)
    best = np.abs(candidates[:, :, 0]).argmax(axis=1)
    chosen = candidates[np.arange(len(q)), best]
    chosen *= np.where(chosen[:, :1] < 0, -1.0, 1.0)
    return np.take_along_axis(np.asarray(scales, np.float32), order, axis=1), chosen.astype(np.float32)
