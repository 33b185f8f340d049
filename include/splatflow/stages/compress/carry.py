"""What the compression output carries from the training output: its figures.

The publish step reads only this folder, so the training ``metrics.json`` travels along (the
stills are rendered here too: ``stills``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from splatflow.contract.outputs import MODEL_METRICS, TRAINING_METRICS


def carry_training_metrics(model_dir: Path, output_dir: Path) -> bool:
    """Copy the training stage's ``metrics.json`` when the model has one (a bare .ply has not)."""
    source = model_dir / MODEL_METRICS
    if not source.is_file():
        return False
    shutil.copyfile(source, output_dir / TRAINING_METRICS)
    return True
