"""A small SfM output (the ``sfm`` channel layout) built once per test session with pycolmap.

The SfM stage is tested on its own; these tests only need its output shape: ``sparse/`` with a
PINHOLE COLMAP model, ``images/`` undistorted, ``report.json``. All 29 Lund photos at 400 px (fewer or
smaller ones do not register) reconstruct in about 15 s on two cores.
"""

from __future__ import annotations

import json
from pathlib import Path

import pycolmap
import pytest
from PIL import Image

PHOTO_COUNT = 29
PHOTO_WIDTH = 400


def _downscaled_photos(source: Path, target: Path) -> None:
    target.mkdir(parents=True)
    for photo in sorted(source.glob("*.jpg"))[:PHOTO_COUNT]:
        with Image.open(photo) as image:
            height = round(image.height * PHOTO_WIDTH / image.width)
            image.convert("RGB").resize((PHOTO_WIDTH, height), Image.Resampling.LANCZOS).save(
                target / photo.name, quality=95
            )


MAPPING_ATTEMPTS = 5


def _map_with_retries(database: Path, photos: Path, work: Path) -> pycolmap.Reconstruction:
    """Global mapping on so few, so small photos fails now and then (it is not deterministic
    across threads); the mapping step alone takes about a second, so retry it."""
    for attempt in range(MAPPING_ATTEMPTS):
        options = pycolmap.GlobalPipelineOptions()
        options.min_num_matches = 15
        options.random_seed = attempt
        reconstructions = pycolmap.global_mapping(database, photos, work / f"models{attempt}", options)
        if reconstructions:
            return max(reconstructions.values(), key=lambda r: r.num_reg_images())
    raise RuntimeError(f"global mapping of the test photos failed {MAPPING_ATTEMPTS} times")


@pytest.fixture(scope="session")
def sfm_channel(tmp_path_factory: pytest.TempPathFactory, datasets_dir: Path) -> Path:
    """A folder laid out like the ``sfm`` training channel."""
    work = tmp_path_factory.mktemp("sfm_work")
    photos = work / "photos"
    _downscaled_photos(datasets_dir / "opensfm_lund" / "images", photos)
    database = work / "database.db"
    extraction = pycolmap.FeatureExtractionOptions()
    extraction.num_threads = 2
    pycolmap.extract_features(database, photos, camera_mode=pycolmap.CameraMode.SINGLE, extraction_options=extraction)
    pycolmap.match_exhaustive(database)
    best = _map_with_retries(database, photos, work)
    distorted = work / "distorted"
    distorted.mkdir()
    best.write(distorted)
    channel = work / "channel"
    pycolmap.undistort_images(channel, distorted, photos)
    (channel / "report.json").write_text(
        json.dumps({"registered_images": best.num_reg_images(), "points": best.num_points3D()})
    )
    return channel
