"""Training photos in memory: 8-bit on the host, and on the device only while a step uses them.

A job's photos are the one part of its memory that grows with the number of photos. Kept as
float32 on the GPU at every resolution level, as the trainer first did, a 1600x1200 photo costs
23 MB at full size and 30 MB with its half and quarter copies: 500 photos would be 15 GB, all of
a T4's 16 GB before a single Gaussian. Kept as the 8-bit pixels they were decoded to, in host
memory, they cost 5.8 MB each (2.9 GB for 500, in a g4dn.xlarge's 16 GB of RAM), and a step
moves one photo to the device and converts it there: 5.8 MB over PCIe, well under a millisecond
of a step that takes tens. ``bench/train_memory.py`` prints this model against the old one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F  # noqa: N812 - the conventional alias
from torch import Tensor

from splatflow.formats.cameras import Camera
from splatflow.render import camera_tensors

PIXEL_SCALE = 255.0


@dataclass(frozen=True)
class ViewTensors:
    """One view at one resolution, as a training or evaluation step consumes it."""

    photo: Tensor
    """(H, W, 3) float32 in [0, 1] on the device."""
    viewmat: Tensor
    intrinsics: Tensor
    width: int
    height: int


def photo_on_device(pixels: npt.NDArray[np.uint8], size: tuple[int, int], device: torch.device) -> Tensor:
    """(H, W, 3) float32 in [0, 1] on ``device`` from 8-bit pixels, area-downscaled to ``size``
    (width, height) on the device when smaller."""
    photo = torch.from_numpy(pixels).to(device).float().div_(PIXEL_SCALE)
    width, height = size
    if (height, width) == photo.shape[:2]:
        return photo
    return F.interpolate(photo.permute(2, 0, 1)[None], size=(height, width), mode="area")[0].permute(1, 2, 0)


def view_tensors(camera: Camera, pixels: npt.NDArray[np.uint8], factor: float, device: torch.device) -> ViewTensors:
    """The view scaled by ``factor`` (1 for full size), its photo freshly moved to ``device``."""
    scaled = camera.scaled(factor) if factor < 1.0 else camera
    viewmat, intrinsics = camera_tensors(scaled, device)
    photo = photo_on_device(pixels, (scaled.width, scaled.height), device)
    return ViewTensors(photo, viewmat, intrinsics, scaled.width, scaled.height)


def photo_bytes(width: int, height: int, levels: int, dtype_bytes: int) -> int:
    """Bytes of one photo kept at ``levels`` resolutions (full, half, quarter, ...)."""
    return sum((width >> level) * (height >> level) * 3 * dtype_bytes for level in range(levels))
