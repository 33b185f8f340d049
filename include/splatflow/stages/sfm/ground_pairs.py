"""Which photos of a survey to match: those that see the same ground, whichever way they look.

A nadir photo sees the ground under the drone; an oblique one (an orbit around a building, a
pass with the camera tilted 45 degrees) sees ground tens of metres away in the direction it
faces, so two photos taken side by side may see nothing in common and two taken from opposite
sides of an orbit may see the same spot. Where a photo's XMP gives the gimbal's pitch and heading
(``camera_view``), its *ground footprint* is the patch its frustum cuts out of the ground plane,
``height`` below the camera: centred where the optical axis meets the ground,
``height / tan(depression)`` metres along the heading, and as narrow as the frustum's narrow side
at the slant range ``height / sin(depression)`` (the side along the heading is stretched by
``1 / sin(depression)`` on the ground). Two photos are matched when their footprints' centres are
closer than ``(1 - min_overlap)`` of the narrower footprint: for straight-down views from one
camera that is the nadir rule of ``footprints.footprint_reach`` exactly (which takes the narrowest
footprint of the whole survey, where this takes the narrower of each pair's two). Each photo
keeps at most ``max_neighbors`` of them, the nearest first, nearness being the distance between
the footprints plus the distance between the cameras, so that neighbours looking at the same
ground from nearby come before the far side of an orbit (for nadir views this is the order of GPS distance).

A photo whose view is unknown, or whose optical axis meets the ground too far away or not at all
(the horizon, a level camera in a street), is matched with its ``max_neighbors`` nearest GPS
neighbours instead: without a footprint, nearness is all there is to go by.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from splatflow.stages.sfm.photos import Photo

MIN_DEPRESSION_DEG = 10.0
"""A view's centre looking less than this below the horizon meets the ground more than 5.7 camera
heights away, if at all; such a view gets its nearest GPS neighbours instead of a footprint."""


@dataclass(frozen=True)
class GroundFootprint:
    """The ground a photo sees: where its centre looks, in metres east and north, and how wide."""

    centre: np.ndarray
    narrow_side_m: float


@dataclass(frozen=True)
class GroundPairing:
    """The pairs to match (names in sorted order) and how each photo's partners were chosen."""

    pairs: set[tuple[str, str]]
    by_footprint: int
    """Photos matched with the photos whose ground footprints overlap theirs."""
    by_gps: int
    """Photos matched with their nearest GPS neighbours (no view, or no ground in view)."""


def ground_footprint(photo: Photo, position: np.ndarray, height_m: float) -> GroundFootprint | None:
    """The ground patch the photo's frustum cuts out ``height_m`` below the camera, or None when unknown."""
    if photo.view is None:
        return None
    depression = photo.view.depression_rad
    if depression < math.radians(MIN_DEPRESSION_DEG):
        return None
    heading = math.radians(photo.view.yaw_deg)
    along_ground = height_m / math.tan(depression)
    centre = position + along_ground * np.array([math.sin(heading), math.cos(heading)])
    slant = height_m / math.sin(depression)
    across = slant * photo.width / photo.focal_px
    along = slant * photo.height / photo.focal_px / math.sin(depression)
    return GroundFootprint(centre, min(across, along))


def ground_pairs(
    photos: list[Photo],
    positions: dict[str, np.ndarray],
    height_m: float,
    min_overlap: float,
    max_neighbors: int,
    max_distance_m: float,
) -> GroundPairing:
    """Pair every photo with those whose footprints overlap its own, or its nearest GPS neighbours.

    ``max_distance_m`` bounds the GPS neighbours of a photo without a footprint, as it bounds
    spatial matching.
    """
    names = [photo.name for photo in photos]
    cameras = np.array([positions[name] for name in names])
    footprints = [ground_footprint(photo, positions[photo.name], height_m) for photo in photos]
    seen = np.array([footprint is not None for footprint in footprints])
    centres = np.array([footprint.centre if footprint else (np.nan, np.nan) for footprint in footprints])
    narrow = np.array([footprint.narrow_side_m if footprint else np.nan for footprint in footprints])
    pairs: set[tuple[str, str]] = set()
    for index, name in enumerate(names):
        camera_distance = np.linalg.norm(cameras - cameras[index], axis=1)
        if seen[index]:
            centre_distance = np.linalg.norm(centres - centres[index], axis=1)
            reach = (1.0 - min_overlap) * np.minimum(narrow, narrow[index])
            eligible = seen & (centre_distance <= reach)
            nearness = centre_distance + camera_distance
        else:
            eligible = camera_distance <= max_distance_m
            nearness = camera_distance
        eligible[index] = False
        candidates = np.flatnonzero(eligible)
        for other in candidates[np.argsort(nearness[candidates], kind="stable")][:max_neighbors]:
            first, second = sorted((name, names[other]))
            pairs.add((first, second))
    by_footprint = int(seen.sum())
    return GroundPairing(pairs, by_footprint, len(names) - by_footprint)
