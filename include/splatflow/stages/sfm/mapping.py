"""Camera poses and sparse points from the verified matches, and the registration check.

pycolmap 4's global mapper is the default: on the shared ``opensfm_lund`` set, incremental
mapping with pycolmap's defaults registered 2 of 29 photos while global mapping registered all 29
in seconds. Global mapping can collapse on weakly connected sets, and whether it does depends on
its random draws: on ``opensfm_lund`` at 640 px, 3 of 40 shuffled photo numberings left it with
no model at seed 0, and each of the three registered all 29 photos at seed 1 or 2. So a mapper
whose model places too few photos gets ``mapper_attempts`` seeds in turn, then the other mapper
gets one try before the stage fails (one only: incremental mapping of a large survey takes hours).
When the matches split into several models, the largest one is kept and the check below decides
whether it covers enough of the survey.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pycolmap

from splatflow.contract.sfm_settings import MapperKind, Settings
from splatflow.stages.harness import FailureCode, StageError
from splatflow.stages.sfm.colmap_options import thread_count
from splatflow.stages.sfm.heartbeat import heartbeat
from splatflow.stages.sfm.unpack import SkippedFile

log = logging.getLogger(__name__)

MAX_NAMES_IN_FAILURE = 5


@dataclass(frozen=True)
class MappingResult:
    reconstruction: pycolmap.Reconstruction
    models: int
    """How many separate models the photos fell into (the largest is kept)."""
    mapper: MapperKind
    """The mapper that built the kept model."""
    seed: int
    """The random seed of the attempt that built the kept model."""
    fallback_reason: str | None
    """Why the first attempt's result was not kept, if it was not."""
    mapper_points: int
    """Points the mapper triangulated (``reconstruction`` may hold more, added afterwards)."""


def map_photos(database: Path, images: Path, work: Path, decoded: int, settings: Settings, stage: str) -> MappingResult:
    """Map with the configured mapper and its seeds; if each places too few photos, try the other one."""
    seeds = range(settings.random_seed, settings.random_seed + settings.mapper_attempts)
    attempts: list[tuple[MapperKind, int]] = [(settings.mapper, seed) for seed in seeds]
    if settings.mapper_fallback:
        attempts.append(("incremental" if settings.mapper == "global" else "global", settings.random_seed))
    # The first attempt's error: raised when no attempt succeeds, reported when a later one does.
    failure: StageError | None = None
    reason: str | None = None
    for mapper, seed in attempts:
        models = _run_mapper(mapper, seed, database, images, work / f"{mapper}-{seed}", settings, stage)
        try:
            reconstruction = _largest(models)
            check_registration(reconstruction.num_reg_images(), decoded, len(models), settings)
        except StageError as exc:
            log.warning("the %s mapper's result with seed %d is not usable: %s", mapper, seed, exc)
            if failure is None:
                failure, reason = exc, f"{mapper} mapper with seed {seed}: {exc}"
            continue
        return MappingResult(reconstruction, len(models), mapper, seed, reason, reconstruction.num_points3D())
    assert failure is not None
    raise failure


def _run_mapper(
    mapper: MapperKind, seed: int, database: Path, images: Path, output: Path, settings: Settings, stage: str
) -> dict[int, pycolmap.Reconstruction]:
    output.mkdir(parents=True, exist_ok=True)
    pycolmap.set_random_seed(seed)
    with heartbeat(stage, f"mapping ({mapper}, seed {seed})"):
        if mapper == "global":
            return pycolmap.global_mapping(database, images, output, _global_options(settings, seed))
        return pycolmap.incremental_mapping(database, images, output, _incremental_options(settings, seed))


def _largest(models: dict[int, pycolmap.Reconstruction]) -> pycolmap.Reconstruction:
    if not models:
        raise StageError(
            FailureCode.NO_OVERLAP,
            "no 3D model could be built from the matches; the photos may not overlap enough "
            "or may show a scene without texture (water, snow, sky)",
        )
    largest = max(models.values(), key=lambda model: model.num_reg_images())
    log.info(
        "%d model(s); the largest registers %d photos with %d points",
        len(models),
        largest.num_reg_images(),
        largest.num_points3D(),
    )
    return largest


def required_registered(decoded: int, settings: Settings) -> int:
    """How many photos the model must hold: the configured fraction, and never fewer than the minimum."""
    return max(settings.min_registered_photos, math.ceil(settings.min_registered_fraction * decoded))


def check_registration(
    registered: int, decoded: int, models: int, settings: Settings, removed: Sequence[SkippedFile] = ()
) -> None:
    """Fail, naming the likely cause, when too few photos made it into the model (or stayed in it)."""
    needed = required_registered(decoded, settings)
    if registered >= needed:
        return
    split = f"; they fell into {models} separate groups" if models > 1 else ""
    names = ", ".join(item.name for item in removed[:MAX_NAMES_IN_FAILURE])
    more = f" and {len(removed) - MAX_NAMES_IN_FAILURE} more" if len(removed) > MAX_NAMES_IN_FAILURE else ""
    dropped = f"; {len(removed)} placed badly were removed ({names}{more})" if removed else ""
    raise StageError(
        FailureCode.NO_OVERLAP,
        f"only {registered} of {decoded} photos could be placed in the 3D model (at least {needed} "
        f"needed){split}{dropped}; the photos may not overlap enough",
    )


def _global_options(settings: Settings, seed: int) -> pycolmap.GlobalPipelineOptions:
    options = pycolmap.GlobalPipelineOptions()
    options.num_threads = thread_count(settings)
    options.random_seed = seed
    options.min_num_matches = settings.min_inlier_matches
    mapper = options.mapper
    mapper.num_threads = options.num_threads
    mapper.random_seed = seed
    mapper.track_required_tracks_per_view = settings.mapper_tracks_per_photo
    mapper.rotation_averaging.random_seed = seed
    mapper.global_positioning.random_seed = seed
    mapper.global_positioning.use_gpu = pycolmap.has_cuda
    mapper.bundle_adjustment.ceres.use_gpu = pycolmap.has_cuda
    return options


def _incremental_options(settings: Settings, seed: int) -> pycolmap.IncrementalPipelineOptions:
    options = pycolmap.IncrementalPipelineOptions()
    options.num_threads = thread_count(settings)
    options.random_seed = seed
    options.min_num_matches = settings.min_inlier_matches
    return options
