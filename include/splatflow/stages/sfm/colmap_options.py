"""pycolmap settings shared by every step: threads, device, seed, log volume, verified pairs."""

from __future__ import annotations

import logging
import os

import pycolmap

from splatflow.contract.sfm_settings import Settings

UNVERIFIED_CONFIGS = frozenset(
    int(config)
    for config in (pycolmap.TwoViewGeometryConfiguration.UNDEFINED, pycolmap.TwoViewGeometryConfiguration.DEGENERATE)
)
"""Two-view geometry configurations of a matched pair that did not pass geometric verification."""


def thread_count(settings: Settings) -> int:
    """An explicit thread count: pycolmap warns about memory when extraction is left at -1."""
    return settings.num_threads if settings.num_threads > 0 else os.cpu_count() or 1


def quiet_pycolmap() -> None:
    """Keep COLMAP's per-image INFO lines out of the job log unless the stage logs at DEBUG."""
    verbose = logging.getLogger("splatflow").getEffectiveLevel() <= logging.DEBUG
    level = pycolmap.logging.INFO if verbose else pycolmap.logging.WARNING
    pycolmap.logging.minloglevel = int(level)


def seed_pycolmap(settings: Settings) -> None:
    pycolmap.set_random_seed(settings.random_seed)
