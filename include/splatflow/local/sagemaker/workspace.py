"""A job's private ``/opt/ml``: a folder per job that the container sees as ``/opt/ml``."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

CONTAINER_ML_ROOT = PurePosixPath("/opt/ml")


EXIT_MESSAGE_MAX_BYTES = 1024
"""SageMaker reports the first KB of a Processing job's message file as its ``ExitMessage``."""


class ExitMessageError(ValueError):
    """The message file is not UTF-8, which SageMaker fails a Processing job for (``ClientError``)."""


class WorkspacePathError(ValueError):
    """A request names a container path outside ``/opt/ml`` or one that climbs out of it."""


@dataclass(frozen=True)
class Workspace:
    root: Path
    """The host folder standing in for the container's ``/opt/ml``."""

    @classmethod
    def create(cls, jobs_root: Path, job_name: str) -> Workspace:
        # Absolute: the job's process runs in another folder and a container mounts it, so a
        # relative root (the default state folder is ``.local``) would point somewhere else.
        root = (jobs_root / job_name / "ml").resolve()
        shutil.rmtree(root, ignore_errors=True)
        for sub in ("input/config", "input/data", "model", "output", "checkpoints"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        return cls(root)

    @property
    def log_file(self) -> Path:
        return self.root.parent / "job.log"

    def host_path(self, container_path: str) -> Path:
        """Map a container path under ``/opt/ml`` to the host folder."""
        path = PurePosixPath(container_path)
        if not path.is_absolute() or ".." in path.parts:
            raise WorkspacePathError(f"{container_path} must be an absolute path without '..'")
        try:
            relative = path.relative_to(CONTAINER_ML_ROOT)
        except ValueError:
            raise WorkspacePathError(f"{container_path} is not under {CONTAINER_ML_ROOT}") from None
        return self.root.joinpath(*relative.parts)

    def write_json(self, container_path: str, payload: Any) -> None:
        target = self.host_path(container_path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(payload, indent=1, default=str), encoding="utf-8")

    def exit_message(self) -> str | None:
        """A Processing container's ``/opt/ml/output/message``: its first KB, which must be UTF-8."""
        message = self.root / "output" / "message"
        if not message.is_file():
            return None
        with message.open("rb") as source:
            head = source.read(EXIT_MESSAGE_MAX_BYTES)
        try:
            return head.decode("utf-8") or None
        except UnicodeDecodeError as exc:
            if exc.start < len(head) - 3:
                raise ExitMessageError("/opt/ml/output/message is not UTF-8 text") from None
            return head[: exc.start].decode("utf-8") or None

    def failure_reason(self) -> str | None:
        """The container's own one-line reason, if it wrote one."""
        failure = self.root / "output" / "failure"
        if not failure.is_file():
            return None
        text = " ".join(failure.read_text(encoding="utf-8", errors="replace").split())
        return text[:1024] or None
