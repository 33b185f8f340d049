"""Cameras, GPS priors and SIFT features into a COLMAP database.

Photos are grouped by camera (a ZIP may mix two drones), one COLMAP camera per group seeded with
the EXIF focal-length prior, so bundle adjustment refines one lens per body instead of one per
photo. GPS positions become WGS84 pose priors, which spatial matching reads. Extraction runs in
chunks so the log shows ``n/N`` while it works.

The extraction size and feature count are chosen for the survey unless set. A set small enough
to match exhaustively gets the working resolution and 8,192 features: it is cheap, and hard small
sets (street photos, a few views of an object) need every match. Past that, a survey is matched
photo by photo with its neighbours, each spot is seen by many photos, and the cost is
extraction's pixels plus matching's features squared for every neighbour: 1024 px and at most
4,096 features. SIFT doubles the image before its first octave, so 1024 px still finds features
of a 2048 px image (3,700 per photo on the low-texture seneca survey, 0.7 s each, against 2.2 s at
1600 px); training reads the full working images, not the features.

Every photo is entered in the database, in name order, before extraction starts. COLMAP's
extractor otherwise numbers photos in the order its threads finish them, and those numbers order
the matched pairs, seed their RANSAC draws and break the mappers' ties: the same ZIP then gave a
different model on each run, and on ``opensfm_lund`` at 640 px 3 numberings in 40 gave none.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pycolmap

from splatflow.contract.sfm_settings import Settings
from splatflow.stages.harness import Progress
from splatflow.stages.sfm.colmap_options import thread_count
from splatflow.stages.sfm.matching import choose_matching
from splatflow.stages.sfm.photos import Photo

SURVEY_EXTRACTION_MAX_SIZE = 1024
SURVEY_MAX_NUM_FEATURES = 4096
SMALL_SET_MAX_NUM_FEATURES = 8192
PROGRESS_CHUNKS = 20
"""Extraction is split into about this many calls, one progress line each."""
MIN_CHUNK_PHOTOS = 8


def group_by_camera(photos: list[Photo]) -> dict[str, list[Photo]]:
    groups: dict[str, list[Photo]] = defaultdict(list)
    for photo in photos:
        groups[photo.camera_key].append(photo)
    return dict(groups)


@dataclass(frozen=True)
class ExtractionPlan:
    """What extraction runs at, as the report shows it."""

    max_image_size: int
    max_num_features: int


def plan_extraction(photos: list[Photo], settings: Settings) -> ExtractionPlan:
    """The configured size and feature count, or for 0 the survey's choice (see the module doc)."""
    small = choose_matching(photos, settings) == "exhaustive"
    size = settings.extraction_max_size or (settings.image_max_size if small else SURVEY_EXTRACTION_MAX_SIZE)
    features = settings.max_num_features or (SMALL_SET_MAX_NUM_FEATURES if small else SURVEY_MAX_NUM_FEATURES)
    return ExtractionPlan(min(size, settings.image_max_size), features)


def extract_features(
    photos: list[Photo], images: Path, database: Path, plan: ExtractionPlan, settings: Settings, stage: str
) -> dict[int, str]:
    """Fill ``database``; return each COLMAP camera id's camera key (for the report)."""
    options = pycolmap.FeatureExtractionOptions()
    options.max_image_size = plan.max_image_size
    options.num_threads = thread_count(settings)
    options.sift.max_num_features = plan.max_num_features
    progress = Progress(stage, "extracting features", len(photos))
    chunk_size = max(MIN_CHUNK_PHOTOS, math.ceil(len(photos) / PROGRESS_CHUNKS))
    camera_keys: dict[int, str] = {}
    for key, group in group_by_camera(photos).items():
        reader = pycolmap.ImageReaderOptions()
        reader.existing_camera_id = _write_camera(database, group[0], settings)
        camera_keys[reader.existing_camera_id] = key
        names = sorted(photo.name for photo in group)
        _register_images(database, reader.existing_camera_id, names)
        for start in range(0, len(names), chunk_size):
            chunk = names[start : start + chunk_size]
            pycolmap.extract_features(
                database,
                images,
                image_names=chunk,
                camera_mode=pycolmap.CameraMode.SINGLE,
                reader_options=reader,
                extraction_options=options,
            )
            progress.advance(len(chunk), cameras=len(camera_keys))
    _write_gps_priors(database, photos)
    return camera_keys


def _write_camera(database: Path, photo: Photo, settings: Settings) -> int:
    model = pycolmap.CameraModelId.__members__[settings.camera_model]
    camera = pycolmap.Camera.create_from_model_id(0, model, photo.focal_px, photo.width, photo.height)
    camera.has_prior_focal_length = photo.focal_from_exif
    with pycolmap.Database.open(database) as db:
        return int(db.write_camera(camera))


def _register_images(database: Path, camera_id: int, names: list[str]) -> None:
    """Fix the photos' ids in name order; the extractor fills in the features of listed photos."""
    with pycolmap.Database.open(database) as db:
        for name in names:
            db.write_image(pycolmap.Image(name=name, camera_id=camera_id))


def _write_gps_priors(database: Path, photos: list[Photo]) -> None:
    positions = {photo.name: photo.gps for photo in photos if photo.gps is not None}
    with pycolmap.Database.open(database) as db:
        for image in db.read_all_images():
            gps = positions.get(image.name)
            if gps is None:
                continue
            prior = pycolmap.PosePrior(
                position=np.array([gps.latitude, gps.longitude, gps.altitude]),
                coordinate_system=pycolmap.PosePriorCoordinateSystem.WGS84,
                corr_data_id=image.data_id,
            )
            db.write_pose_prior(prior)
