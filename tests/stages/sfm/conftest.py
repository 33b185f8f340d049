"""Session fixtures for the SfM stage tests: each shared photo set runs through the stage once."""

from __future__ import annotations

from pathlib import Path

import pytest
from sfm_stage_runner import StageRun, run_sfm_stage, zip_of, zip_of_folder


@pytest.fixture(scope="session")
def lund_run(datasets_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> StageRun:
    """The stage on ``opensfm_lund`` (29 phone photos), downscaled to 640 px: about 20 s."""
    members = zip_of_folder(datasets_dir / "opensfm_lund" / "images", "lund")
    return run_sfm_stage(
        tmp_path_factory.mktemp("lund"),
        zip_of(members),
        "--image-max-size",
        "640",
        "--max-num-features",
        "2048",
    )


@pytest.fixture(scope="session")
def brighton_run(datasets_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> StageRun:
    """``brighton_beach`` (18 drone photos with GPS) in upper-case ``.JPG`` inside a folder, plus
    a truncated photo, a README and a macOS resource fork; spatial matching is forced by a low
    exhaustive limit. About 15 s at 640 px."""
    members = zip_of_folder(datasets_dir / "brighton_beach" / "images", "flight 1/DCIM")
    members["flight 1/DCIM/DJI_9999.JPG"] = members["flight 1/DCIM/DJI_0018.JPG"][:20_000]
    members["README.txt"] = b"survey notes"
    members["__MACOSX/flight 1/._DJI_0018.JPG"] = b"\x00\x05\x16\x07"
    return run_sfm_stage(
        tmp_path_factory.mktemp("brighton"),
        zip_of(members),
        "--image-max-size",
        "640",
        "--max-num-features",
        "2048",
        "--exhaustive-max-photos",
        "8",
        "--spatial-neighbors",
        "8",
    )
