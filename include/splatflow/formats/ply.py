"""The standard 3D Gaussian Splatting ``.ply`` (the Inria layout other 3DGS tools load).

Per vertex: ``x y z``, ``nx ny nz`` (zeros, kept for compatibility), ``f_dc_0..2``, ``f_rest_*``
(channel-major: all coefficients of red, then green, then blue), ``opacity`` (logit),
``scale_0..2`` (log), ``rot_0..3`` (quaternion w, x, y, z). Binary little-endian float32.
A model trained with gsplat's antialiased rasterization says so in a header comment
(``ANTIALIASED_COMMENT``): its opacities only render right with the same compensation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from plyfile import PlyData, PlyElement

Array = npt.NDArray[np.float32]

MAX_SH_DEGREE = 3
ANTIALIASED_COMMENT = "rasterize_mode antialiased"
"""The header comment of a model trained (and to be drawn) with gsplat's ``rasterize_mode="antialiased"``."""


class PlyFormatError(ValueError):
    """The file is not a 3DGS ``.ply`` we can read; the message names what is wrong."""


def sh_rest_count(degree: int) -> int:
    """Coefficients per colour channel beyond the DC term for an SH degree."""
    return (degree + 1) ** 2 - 1


@dataclass
class Splats:
    """Gaussians as numpy arrays in the same parameterisation the ``.ply`` stores.

    ``sh_rest`` is ``(N, K, 3)``: coefficient-major in memory (as renderers want it), converted
    to the file's channel-major order only when written.
    """

    means: Array
    """(N, 3) positions."""
    scales: Array
    """(N, 3) log scales."""
    quats: Array
    """(N, 4) rotations, w x y z, not necessarily normalised."""
    opacities: Array
    """(N,) logit opacities."""
    sh_dc: Array
    """(N, 3) degree-0 SH coefficients (``f_dc``)."""
    sh_rest: Array
    """(N, K, 3) higher-order SH coefficients, K = (degree+1)^2 - 1 (0 at degree 0)."""
    antialiased: bool = False
    """Trained with gsplat's antialiased rasterization: each opacity is to be scaled by the
    share of the splat's screen footprint that is not the 2D blur (``render.rasterize``)."""

    def __post_init__(self) -> None:
        n = self.means.shape[0]
        expected = {
            "means": (n, 3),
            "scales": (n, 3),
            "quats": (n, 4),
            "opacities": (n,),
            "sh_dc": (n, 3),
        }
        for name, shape in expected.items():
            actual = getattr(self, name).shape
            if actual != shape:
                raise PlyFormatError(f"{name} has shape {actual}, expected {shape}")
        rest = self.sh_rest.shape
        if len(rest) != 3 or rest[0] != n or rest[2] != 3:
            raise PlyFormatError(f"sh_rest has shape {rest}, expected ({n}, K, 3)")
        if rest[1] not in {sh_rest_count(d) for d in range(MAX_SH_DEGREE + 1)}:
            raise PlyFormatError(f"sh_rest holds {rest[1]} coefficients per channel; not an SH degree")

    @property
    def count(self) -> int:
        return int(self.means.shape[0])

    @property
    def sh_degree(self) -> int:
        return math.isqrt(self.sh_rest.shape[1] + 1) - 1


def _rest_names(rest_per_channel: int) -> list[str]:
    return [f"f_rest_{i}" for i in range(3 * rest_per_channel)]


def write_ply(splats: Splats, path: Path) -> None:
    """Write ``splats`` as a binary 3DGS ``.ply`` (atomically: a temp file renamed into place)."""
    k = splats.sh_rest.shape[1]
    names = ["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2"]
    names += _rest_names(k)
    names += ["opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]
    n = splats.count
    columns = [
        splats.means,
        np.zeros((n, 3), np.float32),
        splats.sh_dc,
        # (N, K, 3) -> (N, 3, K) -> (N, 3K): channel-major, as the Inria layout stores it.
        splats.sh_rest.transpose(0, 2, 1).reshape(n, 3 * k),
        splats.opacities.reshape(n, 1),
        splats.scales,
        splats.quats,
    ]
    table = np.concatenate([np.asarray(c, dtype=np.float32) for c in columns], axis=1)
    vertex = np.empty(n, dtype=[(name, "<f4") for name in names])
    for i, name in enumerate(names):
        vertex[name] = table[:, i]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    comments = [ANTIALIASED_COMMENT] if splats.antialiased else []
    PlyData([PlyElement.describe(vertex, "vertex")], text=False, byte_order="<", comments=comments).write(str(tmp))
    tmp.replace(path)


def read_ply(path: Path) -> Splats:
    """Read a 3DGS ``.ply``; a missing property or a non-3DGS file is a ``PlyFormatError``."""
    try:
        data = PlyData.read(str(path))
    except Exception as exc:  # noqa: BLE001 - plyfile raises many types for a bad file
        raise PlyFormatError(f"{path.name} is not a readable PLY file: {exc}") from None
    if "vertex" not in data:
        raise PlyFormatError(f"{path.name} has no 'vertex' element")
    vertex = data["vertex"].data
    present = set(vertex.dtype.names or ())
    rest = sorted((p for p in present if p.startswith("f_rest_")), key=lambda p: int(p[7:]))
    if len(rest) % 3:
        raise PlyFormatError(f"{path.name} has {len(rest)} f_rest properties, not a multiple of 3")
    k = len(rest) // 3
    required = ["x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2", "opacity"]
    required += [f"scale_{i}" for i in range(3)] + [f"rot_{i}" for i in range(4)] + _rest_names(k)
    missing = [p for p in required if p not in present]
    if missing:
        raise PlyFormatError(f"{path.name} is missing 3DGS properties: {', '.join(missing)}")

    def stack(names: list[str]) -> Array:
        if not names:
            return np.zeros((len(vertex), 0), np.float32)
        return np.stack([np.asarray(vertex[name], dtype=np.float32) for name in names], axis=1)

    n = len(vertex)
    return Splats(
        means=stack(["x", "y", "z"]),
        scales=stack(["scale_0", "scale_1", "scale_2"]),
        quats=stack(["rot_0", "rot_1", "rot_2", "rot_3"]),
        opacities=np.asarray(vertex["opacity"], dtype=np.float32).copy(),
        sh_dc=stack(["f_dc_0", "f_dc_1", "f_dc_2"]),
        sh_rest=stack(_rest_names(k)).reshape(n, 3, k).transpose(0, 2, 1).copy(),
        antialiased=ANTIALIASED_COMMENT in data.comments,
    )
