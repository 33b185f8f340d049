"""Pinhole cameras as JSON (``cameras.json``), the way views travel between stages.

The training stage writes its held-out views here next to the ``.ply`` so the compression
stage can render the same views from the original and the compressed splat and compare, and
the scene's ``up`` (a unit vector in the splat's frame, when known) so it can frame the whole
site from above. Conventions: OpenCV/COLMAP camera (x right, y down, z forward),
``world_to_camera`` a 4x4 row-major matrix, intrinsics in pixels of ``width`` x ``height``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

CAMERAS_FORMAT_VERSION = 1


class CamerasFormatError(ValueError):
    """``cameras.json`` is missing, malformed or describes an impossible camera."""


@dataclass(frozen=True)
class Camera:
    name: str
    """The view's image name (its photo, if held out, is stored under this name)."""
    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    world_to_camera: tuple[tuple[float, ...], ...]
    """4x4 row-major rigid transform from world to OpenCV camera coordinates."""

    def intrinsics(self) -> npt.NDArray[np.float64]:
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    def view_matrix(self) -> npt.NDArray[np.float64]:
        return np.array(self.world_to_camera, dtype=np.float64)

    def scaled(self, factor: float) -> Camera:
        """The same view at ``factor`` times the resolution (for coarse-to-fine rendering)."""
        return Camera(
            name=self.name,
            width=max(1, round(self.width * factor)),
            height=max(1, round(self.height * factor)),
            fx=self.fx * factor,
            fy=self.fy * factor,
            cx=self.cx * factor,
            cy=self.cy * factor,
            world_to_camera=self.world_to_camera,
        )


def camera_from_matrices(
    name: str, width: int, height: int, intrinsics: npt.ArrayLike, world_to_camera: npt.ArrayLike
) -> Camera:
    k = np.asarray(intrinsics, dtype=np.float64)
    w2c = np.asarray(world_to_camera, dtype=np.float64)
    if k.shape != (3, 3) or w2c.shape != (4, 4):
        raise CamerasFormatError(f"camera {name!r}: intrinsics must be 3x3 and world_to_camera 4x4")
    return Camera(
        name=name,
        width=int(width),
        height=int(height),
        fx=float(k[0, 0]),
        fy=float(k[1, 1]),
        cx=float(k[0, 2]),
        cy=float(k[1, 2]),
        world_to_camera=tuple(tuple(float(v) for v in row) for row in w2c),
    )


def write_cameras(cameras: list[Camera], path: Path, up: npt.ArrayLike | None = None) -> None:
    payload: dict[str, object] = {"version": CAMERAS_FORMAT_VERSION, "cameras": [asdict(c) for c in cameras]}
    if up is not None:
        payload["up"] = [float(v) for v in np.asarray(up, dtype=np.float64).reshape(3)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1), encoding="utf-8")


def _payload(path: Path) -> dict[str, Any]:
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CamerasFormatError(f"{path.name} does not exist") from None
    except json.JSONDecodeError as exc:
        raise CamerasFormatError(f"{path.name} is not valid JSON: {exc}") from None
    if not isinstance(payload, dict) or payload.get("version") != CAMERAS_FORMAT_VERSION:
        raise CamerasFormatError(f"{path.name}: expected version {CAMERAS_FORMAT_VERSION}")
    return payload


def read_up(path: Path) -> npt.NDArray[np.float64] | None:
    """The scene's up as a unit vector, or ``None`` when the file does not say (older models)."""
    value = _payload(path).get("up")
    if value is None:
        return None
    try:
        up = np.asarray(value, dtype=np.float64).reshape(3)
    except (TypeError, ValueError):
        raise CamerasFormatError(f"{path.name}: up must be three numbers, not {value!r}") from None
    length = float(np.linalg.norm(up))
    if not np.isfinite(up).all() or length == 0.0:
        raise CamerasFormatError(f"{path.name}: up must be a finite, non-zero vector, not {value!r}")
    return up / length


def read_cameras(path: Path) -> list[Camera]:
    payload = _payload(path)
    cameras = []
    for entry in payload.get("cameras", []):
        try:
            camera = camera_from_matrices(
                entry["name"],
                entry["width"],
                entry["height"],
                [[entry["fx"], 0, entry["cx"]], [0, entry["fy"], entry["cy"]], [0, 0, 1]],
                entry["world_to_camera"],
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CamerasFormatError(f"{path.name}: malformed camera entry ({exc})") from None
        if camera.width <= 0 or camera.height <= 0 or camera.fx <= 0 or camera.fy <= 0:
            raise CamerasFormatError(f"{path.name}: camera {camera.name!r} has a non-positive size")
        cameras.append(camera)
    return cameras
