"""Find the model under the Processing input: the training job's ``model.tar.gz`` or a ``.ply``.

The archive comes from another job, or from a user (``compress_only``), so it is not trusted:
only its regular files are written, each under a name checked here, and a member whose name
is absolute or climbs with ``..`` refuses the whole archive. Links, devices and modes are never
recreated. ``tarfile``'s ``data`` filter would do this, but only from Python 3.11.4 on; reading
the files one by one behaves the same on every Python the stage supports (Debian bookworm's
is 3.11.2).
"""

from __future__ import annotations

import logging
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from splatflow.contract.outputs import MODEL_CAMERAS, MODEL_HOLDOUT, MODEL_PHOTO_CAMERAS, MODEL_PLY
from splatflow.stages.harness import FailureCode, StageError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelInput:
    ply: Path
    cameras: Path | None
    """The held-out views (``cameras.json``), when the model carries them."""
    holdout_photos: Path | None
    """The folder of held-out photos: ``<camera name>`` (the SfM output's file as it is), or
    ``<camera name>.png`` in a model trained before the photos were kept as they are."""
    photo_cameras: Path | None = None
    """Every photo's view, training and held-out (``photo_cameras.json``), when the model carries
    them (models trained before they were written, or a bare ``.ply``, do not)."""


def holdout_photo(folder: Path | None, camera_name: str) -> Path | None:
    """The held-out photo of ``camera_name`` in ``folder``, under either name; None when missing."""
    if folder is None:
        return None
    for candidate in (folder / camera_name, folder / f"{camera_name}.png"):
        if candidate.is_file():
            return candidate
    return None


def _is_archive(path: Path) -> bool:
    return path.name.endswith((".tar.gz", ".tgz", ".tar"))


def _member_path(name: str, archive: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts:
        raise StageError(
            FailureCode.UNSAFE_ARCHIVE,
            f"{archive} holds an unsafe member ({name!r} would land outside its folder); refusing it",
        )
    return path


def _unpack(archive: Path, workspace: Path) -> Path:
    target = workspace / "model"
    target.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive) as bundle:
            for member in bundle.getmembers():
                relative = _member_path(member.name, archive.name)
                source = bundle.extractfile(member) if member.isfile() else None
                if source is None:
                    continue
                destination = target.joinpath(*relative.parts)
                destination.parent.mkdir(parents=True, exist_ok=True)
                with source, destination.open("wb") as sink:
                    shutil.copyfileobj(source, sink)
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
    photo_cameras = ply.parent / MODEL_PHOTO_CAMERAS
    return ModelInput(
        ply=ply,
        cameras=cameras if cameras.is_file() else None,
        holdout_photos=photos if photos.is_dir() else None,
        photo_cameras=photo_cameras if photo_cameras.is_file() else None,
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
