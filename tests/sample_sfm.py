"""The SfM stage's output for the bundled drone sample, for tests that need a real SfM channel.

Made by the SfM stage itself (as a Processing job would run it), at a small image size so it
takes seconds; deterministic for the same photos and arguments.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample" / "brighton_beach"
SMALL_SFM_ARGUMENTS = ("--image-max-size", "480", "--extraction-max-size", "480")


def make_sample_sfm_output(ml_root: Path) -> Path:
    """Run the SfM stage on the sample's photos under ``ml_root``; the output folder it wrote."""
    inputs = ml_root / "processing" / "input"
    inputs.mkdir(parents=True)
    with zipfile.ZipFile(inputs / "photos.zip", "w") as archive:
        for photo in sorted(SAMPLE.glob("*.JPG")):
            archive.write(photo, photo.name)
    result = subprocess.run(
        [sys.executable, "-m", "splatflow.stages.sfm", *SMALL_SFM_ARGUMENTS],
        env={**os.environ, "SPLATFLOW_ML_ROOT": str(ml_root)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return ml_root / "processing" / "output"
