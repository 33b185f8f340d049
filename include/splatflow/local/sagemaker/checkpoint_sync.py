"""A training job's checkpoint folder and its S3 prefix, kept alike as SageMaker keeps them.

``restore_checkpoints`` starts a retried or resumed job with what its predecessor synced;
``CheckpointSyncer`` copies the folder to S3 while the job runs, deletions included.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

from splatflow.local.sagemaker import s3io


def restore_checkpoints(s3: Any, uri: str, folder: Path) -> None:
    """A retried or resumed job starts with the checkpoints its predecessor synced (none: nothing)."""
    with contextlib.suppress(s3io.TransferError):
        s3io.download_prefix(s3, uri, folder)


class CheckpointSyncer:
    """Keeps the job's checkpoint S3 prefix a copy of its checkpoint folder while it runs.

    SageMaker copies the folder's new checkpoints to S3 during training, and "if a checkpoint is
    deleted in the SageMaker container, it will also be deleted in the S3 folder" (developer
    guide, "Checkpoints in Amazon SageMaker AI"): a stage that keeps its last few checkpoints keeps
    S3 bounded too. This does the same: new or changed files are uploaded, and a file this sync
    uploaded (in this job or in the restore that started it) and that is gone from the folder is
    deleted from S3. Files still being written (``*.tmp``, or hidden) are skipped: stages write a
    checkpoint under no name or a temporary one and name it when complete.
    """

    def __init__(self, s3: Any, uri: str, folder: Path, every_seconds: float, extra: dict[str, str]) -> None:
        self.s3 = s3
        self.uri = uri.rstrip("/")
        self.folder = folder
        self.every = every_seconds
        self.extra = extra
        self._seen: dict[Path, tuple[int, int]] = {
            path: signature for path in self._files() if (signature := _signature(path)) is not None
        }
        self._last = time.monotonic()

    def maybe_sync(self) -> None:
        if time.monotonic() - self._last >= self.every:
            self.sync()

    def _files(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        return sorted(
            path
            for path in self.folder.rglob("*")
            if path.is_file() and not path.name.startswith(".") and not path.name.endswith(".tmp")
        )

    def _key_uri(self, path: Path) -> str:
        return f"{self.uri}/{path.relative_to(self.folder).as_posix()}"

    def sync(self) -> None:
        self._last = time.monotonic()
        present = self._files()
        for path in present:
            signature = _signature(path)
            if signature is None or self._seen.get(path) == signature:
                continue
            try:
                s3io.upload_file(self.s3, path, self._key_uri(path), self.extra)
            except FileNotFoundError:
                # The job pruned it between the listing and the upload: nothing went up, and a
                # copy an earlier pass uploaded goes below like any other pruned checkpoint.
                continue
            self._seen[path] = signature
        for gone in sorted(set(self._seen) - set(present)):
            if not gone.exists():
                s3io.delete_object(self.s3, self._key_uri(gone))
                del self._seen[gone]


def _signature(path: Path) -> tuple[int, int] | None:
    """Size and modification time, or ``None`` for a file that went while it was listed."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return (stat.st_size, stat.st_mtime_ns)
