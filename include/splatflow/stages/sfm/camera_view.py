"""Where a photo's camera pointed: the gimbal's pitch and heading that drones write in XMP.

Footprint matching pairs photos by the ground they see, and a tilted (oblique) camera sees ground
far from the point under the drone, in the direction it faces. DJI drones record the gimbal's
attitude in the photo's XMP packet, in the ``drone-dji`` namespace (ExifTool's table of DJI tags,
https://exiftool.sourceforge.net/TagNames/DJI.html: ``GimbalPitchDegree``, ``GimbalYawDegree``,
``GimbalRollDegree``): pitch 0 is level and -90 straight down, yaw is the heading in degrees
from north (-180 to 180, clockwise). The values sit in the packet either as attributes of an
``rdf:Description`` (``drone-dji:GimbalPitchDegree="-45.00"``) or as elements; both are read with
a pattern over the packet's text, so no XML parser (nor its entity expansion) ever sees it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

XMP_NAMESPACE_PREFIX = "drone-dji"
LOWEST_PITCH_DEG = -90.0
HIGHEST_PITCH_DEG = 30.0
"""Gimbals tilt at most about 30 degrees above level; a pitch outside these limits is garbled."""


@dataclass(frozen=True)
class CameraView:
    """The camera's optical axis: degrees below (negative) or above the horizon, and heading from north."""

    pitch_deg: float
    yaw_deg: float

    @property
    def depression_rad(self) -> float:
        """How far below the horizon the camera looks, in radians (pi/2 straight down)."""
        return math.radians(-self.pitch_deg)


def camera_view(xmp: bytes | str | None) -> CameraView | None:
    """The gimbal's pitch and yaw from a photo's XMP packet, or None when it does not carry both."""
    if not xmp:
        return None
    text = xmp.decode("utf-8", errors="replace") if isinstance(xmp, bytes) else xmp
    pitch = _tag_value(text, "GimbalPitchDegree")
    yaw = _tag_value(text, "GimbalYawDegree")
    if pitch is None or yaw is None or not LOWEST_PITCH_DEG <= pitch <= HIGHEST_PITCH_DEG:
        return None
    return CameraView(pitch, yaw)


def _tag_value(text: str, tag: str) -> float | None:
    name = re.escape(f"{XMP_NAMESPACE_PREFIX}:{tag}")
    found = re.search(rf'{name}\s*=\s*["\']([^"\']*)["\']', text) or re.search(rf"<{name}>([^<]*)</{name}>", text)
    if found is None:
        return None
    try:
        value = float(found.group(1).strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None
