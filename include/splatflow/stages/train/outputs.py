"""The model folder the compression stage reads (names are part of the stage contract).

``splat.ply`` (Inria 3DGS layout), ``cameras.json`` (held-out views at training resolution),
``holdout/<camera name>`` (those photos: the SfM output's files as they are, a JPEG staying a JPEG,
which the compression stage scales to its camera the way training did), ``photo_cameras.json``
(every photo's view, training and held-out, at training resolution: the compression stage removes
the splats none of them shows), ``metrics.json``, ``previews/*.png`` (a held-out photo beside its
render).

A held-out photo used to be re-encoded as a PNG at training resolution: several times the
bytes of the JPEG it came from, and no more faithful than decoding that JPEG again.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from PIL import Image

from splatflow.contract.outputs import MODEL_CAMERAS, MODEL_HOLDOUT, MODEL_METRICS, MODEL_PHOTO_CAMERAS, MODEL_PLY
from splatflow.contract.train_settings import Settings
from splatflow.formats.cameras import write_cameras
from splatflow.formats.ply import Splats, write_ply
from splatflow.render import to_8_bit
from splatflow.render.overview import scene_up
from splatflow.stages.train.dataset import SceneData, View
from splatflow.stages.train.results import TrainingResult

PREVIEWS_DIR = "previews"


def splats_from_parameters(params: dict[str, torch.Tensor], sh_degree: int, antialiased: bool = False) -> Splats:
    """Trained tensors as ``Splats``, keeping SH coefficients up to ``sh_degree``; ``antialiased``
    when they were trained with the antialiased rasterization."""

    def array(name: str) -> npt.NDArray[np.float32]:
        return params[name].detach().cpu().numpy().astype(np.float32)

    rest = (sh_degree + 1) ** 2 - 1
    return Splats(
        means=array("means"),
        scales=array("scales"),
        quats=array("quats"),
        opacities=array("opacities"),
        sh_dc=array("sh0")[:, 0, :],
        sh_rest=np.ascontiguousarray(array("shN")[:, :rest, :]),
        antialiased=antialiased,
    )


def _png(pixels: npt.NDArray[np.uint8], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)


def keep_holdout_photo(view: View, holdout: Path) -> Path:
    """The held-out photo under its camera's name: its source file copied byte for byte, or, for a
    view read from no file, its pixels as a PNG (a lossless format, named ``<camera name>.png``)."""
    if view.source is None:
        target = holdout / f"{view.camera.name}.png"
        _png(view.photo, target)
        return target
    target = holdout / view.camera.name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(view.source, target)
    return target


def metrics_document(result: TrainingResult, settings: Settings, device: str) -> dict[str, Any]:
    return {
        "psnr": result.final.psnr,
        "ssim": result.final.ssim,
        "initial_psnr": result.initial.psnr,
        "colour_error": result.final.colour_error,
        "anisotropy_p99": result.anisotropy_p99,
        "gaussians": result.gaussians,
        "steps": result.steps,
        "seconds": result.seconds,
        "peak_memory_mb": result.peak_memory_mb,
        "stop_reason": result.stop_reason,
        "psnr_history": [{"step": step, "psnr": value} for step, value in result.psnr_history],
        "preset": settings.preset,
        "device": device,
    }


def write_model(
    folder: Path,
    splats: Splats,
    scene: SceneData,
    result: TrainingResult,
    settings: Settings,
    device: str,
) -> None:
    write_ply(splats, folder / MODEL_PLY)
    holdout = scene.holdout
    up = scene_up(scene.cameras, scene.points, scene.georegistered)
    write_cameras([view.camera for view in holdout], folder / MODEL_CAMERAS, up=up)
    write_cameras(scene.cameras, folder / MODEL_PHOTO_CAMERAS, up=up)
    for view in holdout:
        keep_holdout_photo(view, folder / MODEL_HOLDOUT)
    for view, render in list(zip(holdout, result.final.renders, strict=True))[: settings.previews]:
        side_by_side = np.concatenate([view.photo, to_8_bit(render.numpy())], axis=1)
        _png(side_by_side, folder / PREVIEWS_DIR / f"{Path(view.camera.name).stem}.png")
    document = metrics_document(result, settings, device)
    (folder / MODEL_METRICS).write_text(json.dumps(document, indent=1), encoding="utf-8")
