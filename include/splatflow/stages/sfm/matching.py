"""Choose which photo pairs to match from the data, then match and verify them.

Exhaustive matching compares every pair, which is the most robust but grows with the square of
the number of photos. Past ``exhaustive_max_photos`` the stage matches each photo only with the
photos whose ground footprints overlap its own (drone photos carry GPS: ``footprints``) or,
without GPS everywhere, with the photos taken just before and after it, so the cost grows about
linearly with the survey. Pairs are chosen by pycolmap's spatial pairing, which measures GPS
distances on the ellipsoid with the altitude ignored (``ignore_z``), and a pair matched once is
not matched again. When the photos say where their cameras pointed (a gimbal's pitch and heading
in XMP: oblique surveys, orbits), the footprints are what each view sees on the ground
(``ground_pairs``), and the chosen pairs are handed to pycolmap as a list of image names.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pycolmap

from splatflow.contract.sfm_settings import MatchingMethod, Settings
from splatflow.stages.harness import FailureCode, StageError
from splatflow.stages.sfm.colmap_options import UNVERIFIED_CONFIGS, thread_count
from splatflow.stages.sfm.footprints import (
    SEED_NEIGHBORS,
    footprint_reach,
    height_above_ground,
    horizontal_positions,
)
from splatflow.stages.sfm.ground_pairs import ground_pairs
from splatflow.stages.sfm.heartbeat import heartbeat
from splatflow.stages.sfm.pair_list import match_listed_pairs
from splatflow.stages.sfm.photos import Photo

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MatchingResult:
    method: MatchingMethod
    matched_pairs: int
    verified_pairs: int
    height_above_ground_m: float | None = None
    """Footprint matching: the survey's camera height over the ground, from the first pairs."""
    footprint_reach_m: float | None = None
    """Footprint matching of nadir photos: photos closer than this (horizontally) were matched."""
    photos_by_view: int | None = None
    """Footprint matching of photos with a known view: photos paired by what they see on the ground."""
    photos_by_gps: int | None = None
    """Footprint matching of photos with a known view: photos paired with their nearest GPS neighbours
    instead (their own view unknown, or no ground in it)."""


def choose_matching(photos: list[Photo], settings: Settings) -> MatchingMethod:
    """The configured method, or for ``auto`` the cheapest one that suits these photos."""
    if settings.matching != "auto":
        return settings.matching
    if len(photos) <= settings.exhaustive_max_photos:
        return "exhaustive"
    if all(photo.gps is not None for photo in photos):
        return "footprint"
    return "sequential"


def match_photos(photos: list[Photo], database: Path, settings: Settings, stage: str) -> MatchingResult:
    """Match and geometrically verify the chosen pairs; fail when no pair overlaps."""
    method = choose_matching(photos, settings)
    matching = pycolmap.FeatureMatchingOptions()
    matching.num_threads = thread_count(settings)
    verification = pycolmap.TwoViewGeometryOptions()
    verification.min_num_inliers = settings.min_inlier_matches
    verification.ransac.random_seed = settings.random_seed
    # The relative pose gives each verified pair its triangulation angle (footprint heights).
    verification.compute_relative_pose = True
    log.info("matching %d photos with the %s method", len(photos), method)
    footprint: tuple[float | None, float | None, int | None, int | None] = (None, None, None, None)
    with heartbeat(stage, f"matching ({method})"):
        if method == "exhaustive":
            pycolmap.match_exhaustive(database, matching, verification_options=verification)
        elif method == "spatial":
            spatial = _spatial_pairing(settings, settings.spatial_neighbors, settings.spatial_max_distance_m)
            pycolmap.match_spatial(database, matching, spatial, verification_options=verification)
        elif method == "footprint":
            footprint = _match_footprints(photos, database, matching, verification, settings)
        else:
            pycolmap.match_sequential(
                database, matching, _sequential_pairing(settings), verification_options=verification
            )
    matched, verified = _count_pairs(database)
    result = MatchingResult(method, matched, verified, *footprint)
    log.info("%d of %d matched pairs verified", result.verified_pairs, result.matched_pairs)
    if result.verified_pairs == 0:
        raise StageError(
            FailureCode.NO_OVERLAP,
            f"no two of the {len(photos)} photos share enough matching features; "
            "the photos may not overlap (each spot should appear in several photos)",
        )
    return result


def _match_footprints(
    photos: list[Photo],
    database: Path,
    matching: pycolmap.FeatureMatchingOptions,
    verification: pycolmap.TwoViewGeometryOptions,
    settings: Settings,
) -> tuple[float | None, float | None, int | None, int | None]:
    """Nearest neighbours first, for the survey's height; then every pair whose footprints overlap.

    The height, the nadir reach (photos without any known view), and how many photos were paired
    by their views' footprints and how many by GPS nearness (photos with views).
    """
    seed = _spatial_pairing(settings, SEED_NEIGHBORS, settings.spatial_max_distance_m)
    pycolmap.match_spatial(database, matching, seed, verification_options=verification)
    height = height_above_ground(database, photos)
    if height is None:
        log.warning("no camera height from the first pairs; matching the %d nearest photos", settings.spatial_neighbors)
        spatial = _spatial_pairing(settings, settings.spatial_neighbors, settings.spatial_max_distance_m)
        pycolmap.match_spatial(database, matching, spatial, verification_options=verification)
        return None, None, None, None
    if any(photo.view is not None for photo in photos):
        by_view, by_gps = _match_ground_views(photos, database, height, matching, verification, settings)
        return round(height, 1), None, by_view, by_gps
    reach = footprint_reach(height, photos, settings.min_footprint_overlap)
    log.info("cameras %.0f m above the ground: matching photos within %.0f m of each other", height, reach)
    footprint = _spatial_pairing(settings, settings.spatial_neighbors, reach, min_neighbors=SEED_NEIGHBORS)
    pycolmap.match_spatial(database, matching, footprint, verification_options=verification)
    return round(height, 1), round(reach, 1), None, None


def _match_ground_views(
    photos: list[Photo],
    database: Path,
    height: float,
    matching: pycolmap.FeatureMatchingOptions,
    verification: pycolmap.TwoViewGeometryOptions,
    settings: Settings,
) -> tuple[int, int]:
    """Match the pairs whose views see the same ground; photos paired by footprint and by GPS."""
    pairing = ground_pairs(
        photos,
        horizontal_positions(photos),
        height,
        settings.min_footprint_overlap,
        settings.spatial_neighbors,
        settings.spatial_max_distance_m,
    )
    log.info(
        "cameras %.0f m above the ground: %d photos matched by what their views see on the ground, "
        "%d by their nearest GPS neighbours (%d pairs)",
        height,
        pairing.by_footprint,
        pairing.by_gps,
        len(pairing.pairs),
    )
    match_listed_pairs(database, pairing.pairs, matching, verification)
    return pairing.by_footprint, pairing.by_gps


def _spatial_pairing(
    settings: Settings, neighbors: int, max_distance_m: float, min_neighbors: int = 0
) -> pycolmap.SpatialPairingOptions:
    options = pycolmap.SpatialPairingOptions()
    options.max_num_neighbors = neighbors
    options.min_num_neighbors = min_neighbors
    options.max_distance = max_distance_m
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
