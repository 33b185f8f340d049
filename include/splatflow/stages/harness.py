"""The container contract every stage entry point follows (DESIGN section 4), on the stage's side.

A stage reads only SageMaker's paths under ``/opt/ml`` (``splatflow.contract.paths``, re-rooted by
``SPLATFLOW_ML_ROOT`` for local runs), writes a one-line reason to ``/opt/ml/output/failure`` and
exits non-zero when it fails, and never leaves a half-written output a later stage could mistake
for success. The reason carries a failure code (``splatflow.contract.failures``) the pipeline
branches on: a stage fails with ``StageError(code, words)``. The old pipeline's containers failed
silently; this module is the one place that makes failing loud.
"""

from __future__ import annotations

import importlib
import logging
import os
import shutil
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn, TypeVar

from splatflow.contract.failures import FailureCode, format_failure_reason
from splatflow.contract.hyperparameters import (
    HyperparameterError,
    from_container_arguments,
    read_hyperparameters_file,
)
from splatflow.contract.paths import MlPaths

__all__ = [
    "EXIT_INTERNAL_ERROR",
    "EXIT_OK",
    "EXIT_STAGE_FAILED",
    "FailureCode",
    "MlPaths",
    "Progress",
    "StageError",
    "read_arguments",
    "read_settings",
    "run_stage",
    "staged_output",
]

EXIT_OK = 0
EXIT_STAGE_FAILED = 1
"""The input or the settings cannot produce a result; the failure file says why."""
EXIT_INTERNAL_ERROR = 2
"""A bug or an environment problem; the failure file names the exception, stderr has the trace."""

T = TypeVar("T")
log = logging.getLogger("splatflow.stages")


class StageError(Exception):
    """A failure the user can act on: its code and its words become the job's FailureReason."""

    def __init__(self, code: FailureCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def read_settings(settings_type: type[T], paths: MlPaths) -> T:
    """The stage's settings from ``hyperparameters.json``; a bad value fails the stage clearly."""
    try:
        return read_hyperparameters_file(settings_type, paths.hyperparameters_file)
    except HyperparameterError as exc:
        raise StageError(FailureCode.INVALID_SETTINGS, f"invalid hyperparameters: {exc}") from None


def write_failure(paths: MlPaths, name: str, code: FailureCode, message: str) -> None:
    """The failure line, where both kinds of job report it: ``failure`` for Training, ``message``
    for Processing (docs/sagemaker-containers.md)."""
    paths.output.mkdir(parents=True, exist_ok=True)
    line = format_failure_reason(name, code, message) + "\n"
    for report in (paths.failure_file, paths.message_file):
        report.write_text(line, encoding="utf-8")


@contextmanager
def staged_output(final_dir: Path) -> Iterator[Path]:
    """Yield a hidden staging folder; move its contents into ``final_dir`` only on success.

    The final folder therefore holds either nothing or a complete result, so an upload of a
    failed job's output (or a retry reading it) never sees half a model.
    """
    final_dir.mkdir(parents=True, exist_ok=True)
    staging = final_dir / ".staging"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    for item in sorted(staging.iterdir()):
        target = final_dir / item.name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
        item.rename(target)
    staging.rmdir()


def configure_logging() -> None:
    """Plain timestamped lines on stdout: SageMaker ships them to CloudWatch Logs as they come."""
    logging.basicConfig(
        level=os.environ.get("SPLATFLOW_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stdout,
        force=True,
    )


def run_stage(name: str, main: Callable[[MlPaths], None]) -> NoReturn:
    """Run a stage's ``main`` under the contract and exit with its status.

    ``StageError`` becomes the failure file with its code and words (exit 1). Running out of
    memory is ``OUT_OF_MEMORY``; anything else is a bug or an environment fault, ``INTERNAL``: the
    failure file names the exception in one line and the full trace goes to stderr (exit 2).
    Success clears a failure file a previous attempt may have left.
    """
    configure_logging()
    paths = MlPaths.from_environment()
    started = time.monotonic()
    log.info("%s: starting (ml root %s)", name, paths.root)
    try:
        for report in (paths.failure_file, paths.message_file):
            report.unlink(missing_ok=True)
        main(paths)
    except StageError as exc:
        write_failure(paths, name, exc.code, exc.message)
        log.error("%s failed: %s", name, exc)
        sys.exit(EXIT_STAGE_FAILED)
    except MemoryError:
        write_failure(
            paths, name, FailureCode.OUT_OF_MEMORY, "out of memory; use a larger instance or smaller settings"
        )
        log.error("%s ran out of memory", name)
        sys.exit(EXIT_INTERNAL_ERROR)
    except Exception as exc:  # noqa: BLE001 - the contract must turn every crash into a reason
        traceback.print_exc(file=sys.stderr)
        write_failure(paths, name, FailureCode.INTERNAL, f"{type(exc).__name__}: {exc}")
        sys.exit(EXIT_INTERNAL_ERROR)
    log.info("%s: finished in %.1f s", name, time.monotonic() - started)
    sys.exit(EXIT_OK)


def run_stage_module(name: str, module: str) -> NoReturn:
    """Run ``<module>.main`` under the contract, imported inside it.

    An image that lacks one of the stage's libraries then fails with the reason in the failure
    file (``INTERNAL: ModuleNotFoundError: …``), where the job's FailureReason shows it,
    not only as a trace in the log.
    """

    def main(paths: MlPaths) -> None:
        importlib.import_module(module).main(paths)

    run_stage(name, main)


class Progress:
    """Progress lines for long steps (``step n/N elapsed ETA``), so a job is visibly alive.

    Lines are rate-limited to one per ``every_seconds`` (and always the last), so a 10k-image
    loop does not flood CloudWatch Logs.
    """

    def __init__(self, stage: str, step: str, total: int | None, every_seconds: float = 5.0) -> None:
        self.stage = stage
        self.step = step
        self.total = total
        self.every_seconds = every_seconds
        self.done = 0
        self.started = time.monotonic()
        self._last_line = float("-inf")

    def advance(self, count: int = 1, **fields: object) -> None:
        self.done += count
        now = time.monotonic()
        finished = self.total is not None and self.done >= self.total
        if finished or now - self._last_line >= self.every_seconds:
            self._last_line = now
            log.info("%s", self.line(now, **fields))

    def line(self, now: float | None = None, **fields: object) -> str:
        elapsed = (time.monotonic() if now is None else now) - self.started
        parts = [f"[{self.stage}] {self.step}"]
        if self.total:
            parts.append(f"{self.done}/{self.total}")
            if 0 < self.done < self.total:
                eta = elapsed / self.done * (self.total - self.done)
                parts.append(f"eta={eta:.0f}s")
        else:
            parts.append(str(self.done))
        parts.append(f"elapsed={elapsed:.1f}s")
        parts.extend(f"{key}={_format_field(value)}" for key, value in fields.items())
        return " ".join(parts)


def _format_field(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def read_arguments(settings_type: type[T], arguments: list[str]) -> T:
    """A Processing stage's settings from its container arguments; bad ones fail the stage."""
    try:
        return from_container_arguments(settings_type, arguments)
    except HyperparameterError as exc:
        raise StageError(FailureCode.INVALID_SETTINGS, f"invalid arguments: {exc}") from None
