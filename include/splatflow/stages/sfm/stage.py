"""The SfM stage's steps in order, from the input ZIP to the staged output folder."""

from __future__ import annotations

import dataclasses
import logging
import sys
import tempfile
from pathlib import Path

from splatflow.contract.sfm_settings import Settings
from splatflow.stages.harness import FailureCode, MlPaths, StageError, read_arguments, staged_output
from splatflow.stages.sfm.colmap_options import quiet_pycolmap, seed_pycolmap
from splatflow.stages.sfm.features import extract_features, plan_extraction
from splatflow.stages.sfm.georegister import GeoRegistration, georegister
from splatflow.stages.sfm.mapping import MappingResult, check_registration, map_photos
from splatflow.stages.sfm.matching import match_photos
from splatflow.stages.sfm.photos import Photo, decode_photos
from splatflow.stages.sfm.placement import gps_outliers, poorly_observed, remove_photos
from splatflow.stages.sfm.report import StepTimings, build_report, unregistered_photos, write_report
from splatflow.stages.sfm.triangulation import triangulate_all_matches
from splatflow.stages.sfm.undistort import undistort
from splatflow.stages.sfm.unpack import SkippedFile, find_input_zip, unpack_photos

STAGE_NAME = "sfm"
log = logging.getLogger(__name__)


def main(paths: MlPaths) -> None:
    settings = read_arguments(Settings, sys.argv[1:])
    run(paths, settings)


def run(paths: MlPaths, settings: Settings) -> None:
    quiet_pycolmap()
    seed_pycolmap(settings)
    zip_path = find_input_zip(paths.processing_input)
    timings = StepTimings()
    # Scratch space lives in the output folder, on the job's ML storage volume, which is sized
    # for the data (the container's root disk may be far smaller). Its parent is only the mount
    # point SageMaker makes. The scratch is gone before the job ends: only the result is uploaded.
    paths.processing_output.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix=".sfm-work-", dir=paths.processing_output) as scratch,
        staged_output(paths.processing_output) as staging,
    ):
        work = Path(scratch)
        with timings.step("unpack"):
            unpacked = unpack_photos(zip_path, work / "original", settings)
        with timings.step("decode"):
            decoded = decode_photos(unpacked.folder, unpacked.names, work / "images", settings, STAGE_NAME)
        photos = decoded.photos
        _check_enough_photos(len(unpacked.names), len(photos), settings)
        database = work / "database.db"
        extraction = plan_extraction(photos, settings)
        with timings.step("extract"):
            camera_keys = extract_features(photos, decoded.folder, database, extraction, settings, STAGE_NAME)
        with timings.step("match"):
            matching = match_photos(photos, database, settings, STAGE_NAME)
        with timings.step("map"):
            mapping = map_photos(database, decoded.folder, work, len(photos), settings, STAGE_NAME)
        with timings.step("georegister"):
            georegistration, removed = _align_keeping_well_placed_photos(mapping, photos, settings)
        if settings.triangulate_all_matches:
            with timings.step("triangulate"):
                triangulated = triangulate_all_matches(
                    mapping.reconstruction, database, decoded.folder, work, settings, STAGE_NAME
                )
            mapping = dataclasses.replace(mapping, reconstruction=triangulated)
        reconstruction = mapping.reconstruction
        with timings.step("undistort"):
            undistort(reconstruction, decoded.folder, work, staging, settings, STAGE_NAME)
        unplaced = unregistered_photos(photos, reconstruction, {item.name for item in removed})
        report = build_report(
            received=len(unpacked.names),
            photos=photos,
            skipped=[*unpacked.skipped, *decoded.skipped, *unplaced, *removed],
            removed=len(removed),
            camera_keys=camera_keys,
            extraction=extraction,
            mapping=mapping,
            matching=matching,
            georegistration=georegistration,
            timings=timings,
            settings=settings,
        )
        write_report(report, staging)
    log.info(
        "registered %d of %d photos, %d points, mean reprojection error %.3f px",
        report["photos"]["registered"],
        report["photos"]["decoded"],
        report["points"],
        report["mean_reprojection_error_px"],
    )


def _align_keeping_well_placed_photos(
    mapping: MappingResult, photos: list[Photo], settings: Settings
) -> tuple[GeoRegistration, list[SkippedFile]]:
    """Remove photos the model does not hold, align to GPS, then remove photos placed far from theirs.

    Photos resting on too few points go before the alignment, so they neither sway it nor the
    model's own up; GPS outliers can only be told after it. What remains must still be enough.
    """
    reconstruction = mapping.reconstruction
    removed = poorly_observed(reconstruction, settings)
    remove_photos(reconstruction, removed)
    positions = {photo.name: photo.gps for photo in photos if photo.gps is not None}
    georegistration = georegister(reconstruction, positions, settings)
    misplaced = gps_outliers(georegistration, settings)
    remove_photos(reconstruction, misplaced)
    removed += misplaced
    check_registration(reconstruction.num_reg_images(), len(photos), mapping.models, settings, removed)
    return georegistration.without({item.name for item in misplaced}), removed


def _check_enough_photos(received: int, decoded: int, settings: Settings) -> None:
    if decoded >= settings.min_registered_photos:
        return
    broken = f", {received - decoded} could not be decoded" if decoded < received else ""
    raise StageError(
        FailureCode.TOO_FEW_PHOTOS,
        f"the ZIP holds {received} photo(s){broken}; at least {settings.min_registered_photos} "
        "overlapping photos are needed",
    )
