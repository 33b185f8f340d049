"""The stage as SageMaker runs it: ``python -m splatflow.stages.train`` under an ``/opt/ml`` root."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from splatflow.formats.cameras import read_cameras
from splatflow.formats.ply import read_ply

TINY_RUN = {
    "device": "cpu",
    "preset": "preview",
    "max_steps": "30",
    "max_width": "96",
    "eval_every": "10",
    "checkpoint_every": "20",
    "progress_every": "10",
    "steps_per_level": "10",
    "sh_degree": "1",  # the preview trains colour only; degree 1 keeps the PLY's f_rest covered
}


def run_stage(ml_root: Path, hyperparameters: dict[str, str]) -> subprocess.CompletedProcess[str]:
    config = ml_root / "input" / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    environment = dict(os.environ, SPLATFLOW_ML_ROOT=str(ml_root), CUDA_VISIBLE_DEVICES="")
    return subprocess.run(
        [sys.executable, "-m", "splatflow.stages.train"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def with_sfm_input(ml_root: Path, sfm_channel: Path) -> Path:
    shutil.copytree(sfm_channel, ml_root / "input" / "data" / "sfm")
    return ml_root


def test_stage_writes_the_model_folder_the_compression_stage_reads(tmp_path, sfm_channel):
    ml_root = with_sfm_input(tmp_path, sfm_channel)
    completed = run_stage(ml_root, TINY_RUN)

    assert completed.returncode == 0, completed.stdout + completed.stderr
    model = ml_root / "model"
    splats = read_ply(model / "splat.ply")
    metrics = json.loads((model / "metrics.json").read_text())
    cameras = read_cameras(model / "cameras.json")
    assert splats.count == metrics["gaussians"] > 0
    assert splats.sh_degree == 1
    assert metrics["steps"] == 30 and metrics["stop_reason"] == "max_steps"
    assert np.isfinite(metrics["psnr"]) and 0 < metrics["ssim"] <= 1
    assert len(cameras) >= 1
    for camera in cameras:
        assert camera.width == 96
        kept = model / "holdout" / camera.name
        assert kept.read_bytes() == (sfm_channel / "images" / camera.name).read_bytes(), "kept as it is"
        with Image.open(kept) as photo:
            assert photo.format == "JPEG"
    assert sorted(p.name for p in (model / "holdout").iterdir()) == sorted(camera.name for camera in cameras)
    # Every photo's view, so the compression stage knows what the photos show.
    photo_cameras = read_cameras(model / "photo_cameras.json")
    placed = sorted(p.name for p in (sfm_channel / "images").iterdir())
    assert sorted(camera.name for camera in photo_cameras) == placed
    assert all(camera.width == 96 for camera in photo_cameras)
    assert set(cameras) <= set(photo_cameras), "the held-out views are among them, unchanged"
    previews = sorted((model / "previews").glob("*.png"))
    assert previews
    with Image.open(previews[0]) as preview:
        assert preview.size == (2 * cameras[0].width, cameras[0].height)
    assert not (ml_root / "output" / "failure").exists()
    assert sorted(p.name for p in (ml_root / "checkpoints").iterdir()) == ["step-0000020.pt"]
    assert "[train] step 30/30" in completed.stdout


def test_empty_sfm_input_fails_with_a_reason_and_writes_no_model(tmp_path):
    (tmp_path / "input" / "data" / "sfm").mkdir(parents=True)
    completed = run_stage(tmp_path, TINY_RUN)

    assert completed.returncode == 1
    reason = (tmp_path / "output" / "failure").read_text()
    assert reason.startswith("train: INPUT_MISSING: the 'sfm' input channel is empty")
    assert not any((tmp_path / "model").glob("*")) if (tmp_path / "model").exists() else True


def test_a_gpu_job_whose_cuda_cannot_start_fails_in_one_line_naming_driver_and_cuda(tmp_path, sfm_channel):
    """device=cuda, as a GPU instance's request says, never falls back to the CPU; here (a CPU
    PyTorch, no driver) the stage fails before reading the input, with the reason in one line."""
    ml_root = with_sfm_input(tmp_path, sfm_channel)
    completed = run_stage(ml_root, {**TINY_RUN, "device": "cuda"})

    assert completed.returncode == 1
    reason = (ml_root / "output" / "failure").read_text()
    assert reason.startswith("train: NO_GPU: the job asks for a GPU (device=cuda)")
    assert "no CUDA" in reason and len(reason.strip().splitlines()) == 1
    assert not (ml_root / "model" / "splat.ply").exists()
    assert "[train] step" not in completed.stdout
