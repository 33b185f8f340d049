"""Camera poses and sparse points from the verified matches, and the registration check.

pycolmap 4's global mapper is the default: on the shared ``opensfm_lund`` set, incremental
mapping with pycolmap's defaults registered 2 of 29 photos while global mapping registered all 29
in seconds. The incremental mapper stays available as a setting for scenes where it does better.
When the matches split into several models, the largest one is kept and the check below decides
whether it covers enough of the survey.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import pycolmap

from splatflow.stages.contract import StageError
from splatflow.stages.sfm.colmap_options import thread_count
from splatflow.stages.sfm.heartbeat import heartbeat
from splatflow.stages.sfm.settings import Settings

log = logging.getLogger(__name__)


def map_photos(
    database: Path, images: Path, work: Path, settings: Settings, stage: str
) -> tuple[pycolmap.Reconstruction, int]:
    """The largest reconstruction and how many separate models the photos fell into."""
    output = work / "mapper"
    output.mkdir(parents=True, exist_ok=True)
    with heartbeat(stage, f"mapping ({settings.mapper})"):
        if settings.mapper == "global":
            models = pycolmap.global_mapping(database, images, output, _global_options(settings))
        else:
            models = pycolmap.incremental_mapping(database, images, output, _incremental_options(settings))
    if not models:
        raise StageError(
            "no 3D model could be built from the matches; the photos may not overlap enough "
            "or may show a scene without texture (water, snow, sky)"
        )
    largest = max(models.values(), key=lambda model: model.num_reg_images())
    log.info(
        "%d model(s); the largest registers %d photos with %d points",
        len(models),
        largest.num_reg_images(),
        largest.num_points3D(),
    )
    return largest, len(models)


def required_registered(decoded: int, settings: Settings) -> int:
    """How many photos the model must hold: the configured fraction, and never fewer than the minimum."""
    return max(settings.min_registered_photos, math.ceil(settings.min_registered_fraction * decoded))


def check_registration(registered: int, decoded: int, models: int, settings: Settings) -> None:
    """Fail, naming the likely cause, when too few photos made it into the model."""
    needed = required_registered(decoded, settings)
    if registered >= needed:
        return
    split = f"; they fell into {models} separate groups" if models > 1 else ""
    raise StageError(
        f"only {registered} of {decoded} photos could be placed in the 3D model (at least {needed} "
        f"needed){split}; the photos may not overlap enough"
    )


def _global_options(settings: Settings) -> pycolmap.GlobalPipelineOptions:
    options = pycolmap.GlobalPipelineOptions()
    options.num_threads = thread_count(settings)
    options.random_seed = settings.random_seed
    options.min_num_matches = settings.min_inlier_matches
    mapper = options.mapper
    mapper.num_threads = options.num_threads
    mapper.random_seed = settings.random_seed
    mapper.rotation_averaging.random_seed = settings.random_seed
    mapper.global_positioning.random_seed = settings.random_seed
    mapper.global_positioning.use_gpu = pycolmap.has_cuda
    mapper.bundle_adjustment.ceres.use_gpu = pycolmap.has_cuda
    return options


def _incremental_options(settings: Settings) -> pycolmap.IncrementalPipelineOptions:
    options = pycolmap.IncrementalPipelineOptions()
    options.num_threads = thread_count(settings)
    options.random_seed = settings.random_seed
    options.min_num_matches = settings.min_inlier_matches
    return options
