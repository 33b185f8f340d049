"""SageMaker's container paths, under one root that local runs may move.

A stage reads and writes only these paths, and the job requests mount S3 at them, so both sides
take them from here. ``SPLATFLOW_ML_ROOT`` re-roots ``/opt/ml`` when a stage runs as a plain
process (the embedded runtime's fast mode, the tests).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ML_ROOT_ENV = "SPLATFLOW_ML_ROOT"
DEFAULT_ML_ROOT = Path("/opt/ml")

SFM_CHANNEL = "sfm"
"""The training job's input channel that holds the SfM output (``/opt/ml/input/data/sfm``)."""


@dataclass(frozen=True)
class MlPaths:
    """SageMaker's container paths, under one root."""

    root: Path

    @classmethod
    def from_environment(cls) -> MlPaths:
        return cls(Path(os.environ.get(ML_ROOT_ENV) or DEFAULT_ML_ROOT))

    @property
    def processing_input(self) -> Path:
        return self.root / "processing" / "input"

    @property
    def processing_output(self) -> Path:
        return self.root / "processing" / "output"

    def channel(self, name: str) -> Path:
        """A training job's input channel: ``/opt/ml/input/data/<name>``."""
        return self.root / "input" / "data" / name

    @property
    def hyperparameters_file(self) -> Path:
        return self.root / "input" / "config" / "hyperparameters.json"

    @property
    def model(self) -> Path:
        return self.root / "model"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def output(self) -> Path:
        return self.root / "output"

    @property
    def failure_file(self) -> Path:
        """Training's failure text: SageMaker reports its first 1024 characters as ``FailureReason``."""
        return self.output / "failure"

    @property
    def message_file(self) -> Path:
        """Processing's: SageMaker reports its first KB as ``ExitMessage`` (``failure`` is documented
        for Training only)."""
        return self.output / "message"


CONTAINER = MlPaths(DEFAULT_ML_ROOT)
"""The paths as SageMaker mounts them inside the job's container: what a job request names."""
