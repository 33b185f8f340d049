"""What lets a later job continue this one: the fingerprint a checkpoint must match, and the stop on
SIGTERM that checkpoints the current step first.

SageMaker stops a job (a spot reclaim, ``StopTrainingJob``, the runtime limit) with SIGTERM and
SIGKILLs it after a grace period; the stage saves the step it is on and exits with a code the
pipeline retries, and the retried job resumes there from the synced checkpoint folder. It resumes
only a checkpoint trained from the same settings and scene: a folder holding another
configuration's training (an older generation's, or the same run with changed settings) starts
afresh instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, NoReturn

from splatflow.contract.train_settings import Settings
from splatflow.stages.harness import FailureCode, StageError
from splatflow.stages.train.checkpoints import checkpoint_path, fingerprint, save_checkpoint
from splatflow.stages.train.dataset import SceneData

STOPPED_BY_SIGNAL = "stop_signal"
SETTINGS_NOT_FINGERPRINTED = frozenset({"cpu_threads", "progress_every", "checkpoint_every"})
"""Settings a resumed job may change: they pace the logs, checkpoints and threads, not the model."""


def training_fingerprint(settings: Settings, scene: SceneData) -> str:
    """What a checkpoint must have been trained from to be resumed: every setting but those that
    only pace the logs, checkpoints and threads, and the scene's size."""
    values = {k: v for k, v in asdict(settings).items() if k not in SETTINGS_NOT_FINGERPRINTED}
    sizes = {
        "training_views": len(scene.training),
        "holdout_views": len(scene.holdout),
        "points": int(scene.points.shape[0]),
    }
    return fingerprint({"settings": values, "scene": sizes})


def checkpoint_and_stop(checkpoints: Path, step: int, max_steps: int, state: Callable[[], dict[str, Any]]) -> NoReturn:
    """Save ``step`` (unless its checkpoint is there already) and end the job as interrupted, a code
    the pipeline retries: the next job of the run resumes from this step."""
    if step > 0 and not checkpoint_path(checkpoints, step).exists():
        save_checkpoint(checkpoints, step, state())
    raise StageError(
        FailureCode.SERVICE_INTERRUPTED,
        f"training was stopped at step {step} of {max_steps}; "
        "its checkpoint was written, so a resumed job continues from there",
    )
