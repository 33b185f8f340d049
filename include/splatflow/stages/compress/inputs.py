"""Find the model under the Processing input: the training job's ``model.tar.gz`` or a ``.ply``.

The archive comes from another job, so it is unpacked with ``tarfile``'s ``data`` filter:
members that would land outside the workspace (absolute paths, ``..``, links pointing out),
device files and set-uid bits are refused rather than trusted.
"""

from __future__ import annotations

import logging
import tarfile
from dataclasses import dataclass
from pathlib import Path

from splatflow.contract.outputs import MODEL_CAMERAS, MODEL_HOLDOUT, MODEL_PLY
from splatflow.stages.contract import FailureCode, StageError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelInput:
    ply: Path
    cameras: Path | None
    """The held-out views (``cameras.json``), when the model carries them."""
    holdout_photos: Path | None
    """The folder of held-out photos, ``<camera name>.png``."""


def _is_archive(path: Path) -> bool:
    return path.name.endswith((".tar.gz", ".tgz", ".tar"))


def _unpack(archive: Path, workspace: Path) -> Path:
    target = workspace / "model"
    target.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive) as bundle:
            bundle.extractall(target, filter="data")
    except tarfile.FilterError as exc:
        raise StageError(
            FailureCode.UNSAFE_ARCHIVE, f"{archive.name} holds an unsafe member ({exc}); refusing to unpack it"
        ) from None
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise StageError(FailureCode.NOT_AN_ARCHIVE, f"{archive.name} is not a readable tar archive: {exc}") from None
    log.info("unpacked %s into %s", archive.name, target)
    return target


def _model_in(folder: Path, origin: str) -> ModelInput:
    candidates = sorted(folder.rglob(MODEL_PLY)) or sorted(folder.rglob("*.ply"))
    if len(candidates) != 1:
        found = ", ".join(str(p.relative_to(folder)) for p in candidates) or "none"
        raise StageError(FailureCode.BAD_MODEL, f"{origin} must hold exactly one splat .ply (found: {found})")
    ply = candidates[0]
    cameras = ply.parent / MODEL_CAMERAS
    photos = ply.parent / MODEL_HOLDOUT
    return ModelInput(
        ply=ply,
        cameras=cameras if cameras.is_file() else None,
        holdout_photos=photos if photos.is_dir() else None,
    )


def locate_model(input_dir: Path, workspace: Path) -> ModelInput:
    """The model to compress: an archive is unpacked into ``workspace``, a bare ``.ply`` used as is."""
    if not input_dir.is_dir():
        raise StageError(
            FailureCode.INPUT_MISSING, f"no input at {input_dir}; the job needs the trained model as its input"
        )
    files = sorted(p for p in input_dir.rglob("*") if p.is_file())
    archives = [p for p in files if _is_archive(p)]
    if len(archives) > 1:
        raise StageError(FailureCode.BAD_MODEL, f"the input holds {len(archives)} archives; expected one model.tar.gz")
    if archives:
        return _model_in(_unpack(archives[0], workspace), archives[0].name)
    if not files:
        raise StageError(
            FailureCode.INPUT_MISSING, "the input is empty; expected the training job's model.tar.gz or a .ply"
        )
    return _model_in(input_dir, "the input")
