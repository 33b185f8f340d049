"""A test-only stage whose behaviour is scripted by its settings, to exercise the job runner.

It follows the same container contract as the real stages (``splatflow.stages.harness``):
Processing settings come from container arguments, Training settings from hyperparameters.json.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from splatflow.stages.harness import FailureCode, MlPaths, StageError, read_arguments, read_settings, run_stage


@dataclass(frozen=True)
class ScriptedSettings:
    mode: Literal["copy", "fail", "crash", "sleep", "checkpoint"] = "copy"
    seconds: float = 0.0
    reason: str = "scripted failure"
    code: str = "INTERNAL"
    """The failure code ``fail`` reports (a ``FailureCode`` name)."""
    steps: int = 5
    keep_last: int = 0
    """``checkpoint`` mode: with more than 0, also one file per step (``step-<n>.ckpt``), of which
    only the newest ``keep_last`` are kept, as the training stage prunes its checkpoints."""


def _copy_tree(source: Path, target: Path) -> int:
    count = 0
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        destination = target / path.relative_to(source)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, destination)
        count += 1
    return count


def _checkpointed_steps(settings: ScriptedSettings, paths: MlPaths) -> None:
    marker = paths.checkpoints / "step.txt"
    start = int(marker.read_text()) if marker.exists() else 0
    print(f"resuming from step {start}", flush=True)
    for step in range(start + 1, settings.steps + 1):
        time.sleep(settings.seconds)
        tmp = marker.with_name("step.txt.tmp")
        tmp.write_text(str(step))
        tmp.replace(marker)
        if settings.keep_last > 0:
            (paths.checkpoints / f"step-{step:04d}.ckpt").write_text(str(step))
            for old in sorted(paths.checkpoints.glob("step-*.ckpt"))[: -settings.keep_last]:
                old.unlink()
        print(f"checkpoint at step {step}", flush=True)
    (paths.model / "steps.txt").write_text(f"{start} {settings.steps}")


def main(paths: MlPaths) -> None:
    training = paths.hyperparameters_file.exists()
    if training:
        settings = read_settings(ScriptedSettings, paths)
        source, target = paths.root / "input" / "data", paths.model
    else:
        settings = read_arguments(ScriptedSettings, sys.argv[1:])
        source, target = paths.processing_input, paths.processing_output
    print(f"scripted stage: mode={settings.mode} greeting={os.environ.get('GREETING', '')}", flush=True)
    if settings.mode == "fail":
        raise StageError(FailureCode(settings.code), settings.reason)
    if settings.mode == "crash":
        sys.stdout.flush()
        os._exit(3)
    if settings.mode == "sleep":
        deadline = time.monotonic() + settings.seconds
        while time.monotonic() < deadline:
            time.sleep(0.1)
    if settings.mode == "checkpoint":
        _checkpointed_steps(settings, paths)
        return
    count = _copy_tree(source, target)
    print(f"copied {count} files", flush=True)


if __name__ == "__main__":
    run_stage("scripted", main)
