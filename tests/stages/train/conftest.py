"""A small SfM output (the ``sfm`` channel layout) built once per test session by the SfM stage.

The bundled drone sample (18 photos with GPS) through ``python -m splatflow.stages.sfm`` at
480 px: the same stage the pipeline runs, seeded and deterministic, in about 15 s on two cores.
Its output is exactly what a training job receives: ``sparse/`` (PINHOLE), ``images/``,
``report.json``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

SAMPLE = Path(__file__).resolve().parents[3] / "data" / "sample" / "brighton_beach"
SFM_ARGUMENTS = ["--image-max-size", "480", "--extraction-max-size", "480"]


@pytest.fixture(scope="session")
def sfm_channel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder laid out like the ``sfm`` training channel."""
    ml = tmp_path_factory.mktemp("sfm_ml")
    inputs = ml / "processing" / "input"
    inputs.mkdir(parents=True)
    with zipfile.ZipFile(inputs / "photos.zip", "w") as archive:
        for photo in sorted(SAMPLE.glob("*.JPG")):
            archive.write(photo, photo.name)
    result = subprocess.run(
        [sys.executable, "-m", "splatflow.stages.sfm", *SFM_ARGUMENTS],
        env={**os.environ, "SPLATFLOW_ML_ROOT": str(ml)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return ml / "processing" / "output"
