"""A small SfM output (the ``sfm`` channel layout) built once per test session by the SfM stage.

The bundled drone sample (18 photos with GPS) through ``python -m splatflow.stages.sfm`` at
480 px: the same stage the pipeline runs, seeded and deterministic, in about 15 s on two cores.
Its output is exactly what a training job receives: ``sparse/`` (PINHOLE), ``images/``,
``report.json``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sample_sfm import make_sample_sfm_output


@pytest.fixture(scope="session")
def sfm_channel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder laid out like the ``sfm`` training channel."""
    return make_sample_sfm_output(tmp_path_factory.mktemp("sfm_ml"))
