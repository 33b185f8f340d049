"""Checkpoints in ``/opt/ml/checkpoints`` so a stopped, spot-interrupted or retried job resumes.

SageMaker copies every file of that folder to the job's ``CheckpointConfig.S3Uri`` while the job
runs, writes what is there into a restarted job, and "if a checkpoint is deleted in the SageMaker
container, it will also be deleted in the S3 folder" (SageMaker developer guide, "Checkpoints in
Amazon SageMaker AI"). So what the folder holds is what S3 holds:

- a checkpoint is written as a file with no name (``O_TMPFILE``) and linked under its final name
  once complete and flushed, so the sync never sees a partial file, under any name (where the
  file system has no ``O_TMPFILE``, a hidden temporary name is used and renamed);
- all but the newest ``KEEP_LAST`` are deleted, which deletes them from S3 too, so the S3 side
  and the volume a restore fills stay bounded (a 3 M-Gaussian checkpoint is about 2 GB);
- each checkpoint carries the fingerprint of what it was trained from (the settings and the
  scene); one with another fingerprint is never resumed: the folder is emptied and training
  starts afresh, rather than restoring another run's step, history and parameters.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, BinaryIO

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
    write_whole_file(path, lambda stream: torch.save(state, stream))
    for old in sorted(folder.glob(PATTERN))[:-KEEP_LAST]:
        old.unlink()
    log.info("checkpoint written: %s", path.name)
    return path


def write_whole_file(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Make ``path`` appear only once ``write`` has written all of it (an existing file is replaced)."""
    try:
        descriptor = os.open(path.parent, os.O_TMPFILE | os.O_WRONLY, 0o644)
    except OSError as exc:
        if exc.errno not in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL):
            raise
        write_then_rename(path, write)
        return
    try:
        _write_through(descriptor, write)
        path.unlink(missing_ok=True)
        # linkat(AT_SYMLINK_FOLLOW) on /proc/self/fd/N names an O_TMPFILE file (open(2)); Python
        # calls linkat, not link, only when given a directory descriptor.
        folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.link(f"/proc/self/fd/{descriptor}", path.name, dst_dir_fd=folder, follow_symlinks=True)
        finally:
            os.close(folder)
    finally:
        os.close(descriptor)


def write_then_rename(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """The fallback: a hidden temporary name beside ``path``, flushed, then renamed over it."""
    temporary = path.with_name(f".{path.name}.partial")
    descriptor = os.open(temporary, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o644)
    try:
        _write_through(descriptor, write)
    finally:
        os.close(descriptor)
    temporary.replace(path)


def _write_through(descriptor: int, write: Callable[[BinaryIO], None]) -> None:
    with os.fdopen(descriptor, "wb", closefd=False) as stream:
        write(stream)
    os.fsync(descriptor)


def fingerprint(trained_from: Mapping[str, Any]) -> str:
    """A short digest of what a checkpoint was trained from (JSON-serialisable values)."""
    text = json.dumps(trained_from, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_latest_checkpoint(folder: Path, device: torch.device, expected_fingerprint: str) -> dict[str, Any] | None:
    """The newest checkpoint's state, or ``None`` when training starts fresh.

    A checkpoint made from other settings or another scene is not resumed: every checkpoint in the
    folder is deleted (SageMaker then deletes them from S3) and ``None`` is returned.
    """
    candidates = sorted(folder.glob(PATTERN)) if folder.is_dir() else []
    if not candidates:
        return None
    state: dict[str, Any] = torch.load(candidates[-1], map_location=device, weights_only=False)
    if state.get("fingerprint") != expected_fingerprint:
        log.warning(
            "checkpoint %s was made from other settings or another scene (%s, not %s); starting afresh",
            candidates[-1].name,
            state.get("fingerprint"),
            expected_fingerprint,
        )
        for stale in candidates:
            stale.unlink()
        return None
    log.info("resuming from checkpoint %s", candidates[-1].name)
    return state
