"""Choose which photo pairs to match from the data, then match and verify them.

Exhaustive matching compares every pair, which is the most robust but grows with the square of
the number of photos. Past ``exhaustive_max_photos`` the stage matches each photo only with its
GPS neighbours (drone photos carry GPS) or, without GPS everywhere, with the photos taken just
before and after it, so the cost grows about linearly with the survey.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pycolmap

from splatflow.contract.sfm_settings import MatchingMethod, Settings
from splatflow.stages.contract import FailureCode, StageError
from splatflow.stages.sfm.colmap_options import thread_count
from splatflow.stages.sfm.heartbeat import heartbeat
from splatflow.stages.sfm.photos import Photo

log = logging.getLogger(__name__)

UNVERIFIED_CONFIGS = frozenset(
    int(config)
    for config in (pycolmap.TwoViewGeometryConfiguration.UNDEFINED, pycolmap.TwoViewGeometryConfiguration.DEGENERATE)
)


@dataclass(frozen=True)
class MatchingResult:
    method: MatchingMethod
    matched_pairs: int
    verified_pairs: int


def choose_matching(photos: list[Photo], settings: Settings) -> MatchingMethod:
    """The configured method, or for ``auto`` the cheapest one that suits these photos."""
    if settings.matching != "auto":
        return settings.matching
    if len(photos) <= settings.exhaustive_max_photos:
        return "exhaustive"
    if all(photo.gps is not None for photo in photos):
        return "spatial"
    return "sequential"


def match_photos(photos: list[Photo], database: Path, settings: Settings, stage: str) -> MatchingResult:
    """Match and geometrically verify the chosen pairs; fail when no pair overlaps."""
    method = choose_matching(photos, settings)
    matching = pycolmap.FeatureMatchingOptions()
    matching.num_threads = thread_count(settings)
    verification = pycolmap.TwoViewGeometryOptions()
    verification.min_num_inliers = settings.min_inlier_matches
    verification.ransac.random_seed = settings.random_seed
    log.info("matching %d photos with the %s method", len(photos), method)
    with heartbeat(stage, f"matching ({method})"):
        if method == "exhaustive":
            pycolmap.match_exhaustive(database, matching, verification_options=verification)
        elif method == "spatial":
            pycolmap.match_spatial(database, matching, _spatial_pairing(settings), verification_options=verification)
        else:
            pycolmap.match_sequential(
                database, matching, _sequential_pairing(settings), verification_options=verification
            )
    result = MatchingResult(method, *_count_pairs(database))
    log.info("%d of %d matched pairs verified", result.verified_pairs, result.matched_pairs)
    if result.verified_pairs == 0:
        raise StageError(
            FailureCode.NO_OVERLAP,
            f"no two of the {len(photos)} photos share enough matching features; "
            "the photos may not overlap (each spot should appear in several photos)",
        )
    return result


def _spatial_pairing(settings: Settings) -> pycolmap.SpatialPairingOptions:
    options = pycolmap.SpatialPairingOptions()
    options.max_num_neighbors = settings.spatial_neighbors
    options.max_distance = settings.spatial_max_distance_m
    options.ignore_z = True  # drone GPS altitude is far noisier than its horizontal position
    options.num_threads = thread_count(settings)
    return options


def _sequential_pairing(settings: Settings) -> pycolmap.SequentialPairingOptions:
    options = pycolmap.SequentialPairingOptions()
    options.overlap = settings.sequential_overlap
    options.num_threads = thread_count(settings)
    return options


def _count_pairs(database: Path) -> tuple[int, int]:
    """Pairs compared, and pairs whose matches fit a two-view geometry (the mapper's input)."""
    with pycolmap.Database.open(database) as db:
        _, geometries = db.read_two_view_geometries()
        verified = sum(1 for geometry in geometries if int(geometry.config) not in UNVERIFIED_CONFIGS)
        return db.num_matched_image_pairs(), verified
