"""Checkpoints in ``/opt/ml/checkpoints`` so a spot-interrupted or retried job resumes.

SageMaker syncs that folder to S3 while the job runs and restores it into a restarted job, so the
newest complete file here is where training continues. Files are written to a temporary name and
renamed, so an interruption mid-write leaves the previous checkpoint as the newest.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

log = logging.getLogger(__name__)

KEEP_LAST = 2
PATTERN = "step-*.pt"


def checkpoint_path(folder: Path, step: int) -> Path:
    return folder / f"step-{step:07d}.pt"


def save_checkpoint(folder: Path, step: int, state: dict[str, Any]) -> Path:
    """Write ``state`` for ``step`` atomically and drop all but the newest ``KEEP_LAST``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = checkpoint_path(folder, step)
    partial = path.with_suffix(".partial")
    torch.save(state, partial)
    partial.replace(path)
    for old in sorted(folder.glob(PATTERN))[:-KEEP_LAST]:
        old.unlink()
    log.info("checkpoint written: %s", path.name)
    return path


def load_latest_checkpoint(folder: Path, device: torch.device) -> dict[str, Any] | None:
    """The newest checkpoint's state, or ``None`` when training starts fresh."""
    candidates = sorted(folder.glob(PATTERN)) if folder.is_dir() else []
    if not candidates:
        return None
    log.info("resuming from checkpoint %s", candidates[-1].name)
    state: dict[str, Any] = torch.load(candidates[-1], map_location=device, weights_only=False)
    return state
