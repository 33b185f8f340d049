"""The compressor container under the contract: outputs, report, and failures with reasons."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from synthetic_scene import synthetic_scene

from splatflow.formats.cameras import camera_from_matrices, write_cameras
from splatflow.formats.glb import read_glb, read_glb_document
from splatflow.formats.ply import write_ply
from splatflow.formats.sog import read_sog
from splatflow.formats.spz import read_spz
from splatflow.render import render_splats

TOP_DOWN = camera_from_matrices(
    "view_0",
    64,
    48,
    [[40, 0, 32], [0, 40, 24], [0, 0, 1]],
    [[1, 0, 0, 0], [0, -1, 0, 0], [0, 0, -1, 60], [0, 0, 0, 1]],
)


def run_compress(ml_root: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SPLATFLOW_ML_ROOT": str(ml_root)}
    return subprocess.run(
        [sys.executable, "-m", "splatflow.stages.compress", *arguments],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def write_model_archive(ml_root: Path, splats, with_photos: bool = True) -> None:
    """A training job's model.tar.gz: splat.ply, cameras.json, holdout photos."""
    model = ml_root / "model_src"
    write_ply(splats, model / "splat.ply")
    write_cameras([TOP_DOWN], model / "cameras.json", up=[0.0, 0.0, 1.0])
    (model / "holdout").mkdir()
    if with_photos:
        # A photo differs from the model's render (about 26 dB here, as trained scenes do).
        noise = np.random.default_rng(0).normal(scale=0.05, size=(TOP_DOWN.height, TOP_DOWN.width, 3))
        photo = ((render_splats(splats, TOP_DOWN) + noise).clip(0, 1) * 255).round().astype(np.uint8)
        Image.fromarray(photo).save(model / "holdout" / "view_0.png")
    (model / "metrics.json").write_text('{"psnr": 24.5}')
    inputs = ml_root / "processing" / "input"
    inputs.mkdir(parents=True)
    with tarfile.open(inputs / "model.tar.gz", "w:gz") as archive:
        for path in sorted(model.rglob("*")):
            archive.add(path, arcname=str(path.relative_to(model)), recursive=False)


@pytest.mark.slow
def test_model_archive_becomes_a_checked_bundle(tmp_path):
    splats = synthetic_scene(1500, sh_degree=1, seed=1)
    write_model_archive(tmp_path, splats)
    result = run_compress(tmp_path, "--quality-image-scale", "1.0")
    assert result.returncode == 0, result.stdout + result.stderr
    output = tmp_path / "processing" / "output"
    names = sorted(p.name for p in output.iterdir())
    stills = ["orbit_1.png", "orbit_2.png", "orbit_3.png", "preview.png"]
    assert names == [
        "comparison.png",
        "metrics.json",
        *stills,
        "report.json",
        "scene.glb",
        "scene.sog",
        "scene.spz",
        "splat.ply",
        "tile.glb",
    ]
    assert json.loads((output / "metrics.json").read_text()) == {"psnr": 24.5}
    with Image.open(output / "preview.png") as preview:
        assert preview.size == (640, 360), "rendered at the email's width, from above the whole site"
        assert np.asarray(preview).std() > 1, "the preview shows the scene, not a blank frame"
    with Image.open(output / "comparison.png") as comparison:
        assert comparison.size == (640, 240), "the held-out photo beside its render, each 320 px wide"
    report = json.loads((output / "report.json").read_text())
    assert report["splats"] == 1500 and report["dropped_non_finite"] == 0 and report["sh_degree"] == 1
    assert report["sog_bytes"] == (output / "scene.sog").stat().st_size
    assert report["ratio"] == pytest.approx(report["ply_bytes"] / report["sog_bytes"], rel=1e-3)
    view = report["quality"]["views"][0]
    assert view["camera"] == "view_0" and view["psnr_vs_original"] > 30
    assert report["quality"]["psnr_loss_db"] < 1.0
    assert read_sog(output / "scene.sog").count == 1500
    for name, file_name, read in (("spz", "scene.spz", read_spz), ("glb", "scene.glb", read_glb)):
        written = report["formats"][name]
        assert written["file"] == file_name and written["bytes"] == (output / file_name).stat().st_size
        assert written["quality"]["views"][0]["psnr_vs_original"] > 30, f"the render check judges the {name}"
        assert read(output / file_name).count == 1500
    assert "lod" not in report["formats"] and "within lod_min_sog_bytes" in report["lod_skipped"]
    tile = report["formats"]["tile"]
    _, binary = read_glb_document((output / "tile.glb").read_bytes())
    assert binary.startswith((output / "scene.spz").read_bytes()), "the tile holds the .spz the check judged"
    reach = np.linalg.norm(splats.means - np.array(tile["centre"]), axis=1)
    assert reach.max() <= tile["radius_m"], "the bounding sphere holds every splat"


JPEG_VIEW = dataclasses.replace(TOP_DOWN, name="DJI_0007.JPG")


@pytest.mark.slow
def test_an_uncompressed_model_folder_is_read_in_place_with_its_jpeg_photo_and_no_ply_copy(tmp_path):
    """The training job's ``output/model/`` files as the input channel (CompressionType NONE): the
    held-out JPEG is read under its own name and the .ply, linked where training wrote it, is not copied."""
    splats = synthetic_scene(1500, sh_degree=1, seed=1)
    model = tmp_path / "processing" / "input"
    write_ply(splats, model / "splat.ply")
    write_cameras([JPEG_VIEW], model / "cameras.json", up=[0.0, 0.0, 1.0])
    (model / "holdout").mkdir()
    noise = np.random.default_rng(0).normal(scale=0.05, size=(JPEG_VIEW.height, JPEG_VIEW.width, 3))
    photo = ((render_splats(splats, JPEG_VIEW) + noise).clip(0, 1) * 255).round().astype(np.uint8)
    Image.fromarray(photo).save(model / "holdout" / JPEG_VIEW.name, format="JPEG", quality=95)
    (model / "metrics.json").write_text('{"psnr": 24.5}')

    result = run_compress(tmp_path, "--quality-image-scale", "1.0", "--copy-ply", "false")

    assert result.returncode == 0, result.stdout + result.stderr
    output = tmp_path / "processing" / "output"
    names = {p.name for p in output.iterdir()}
    assert "splat.ply" not in names and {"scene.sog", "comparison.png", "metrics.json"} <= names
    report = json.loads((output / "report.json").read_text())
    assert report["quality"]["psnr_loss_db"] is not None, "the JPEG was found and compared against"
    assert report["ply_bytes"] == (model / "splat.ply").stat().st_size


@pytest.mark.slow
def test_a_model_past_the_size_limit_also_gets_a_streamed_bundle_with_its_background_as_environment(tmp_path):
    splats = synthetic_scene(3000, sh_degree=1, seed=2)
    write_model_archive(tmp_path, splats)
    result = run_compress(tmp_path, "--lod-min-sog-bytes", "1000", "--lod-coarsest-splats", "300")
    assert result.returncode == 0, result.stdout + result.stderr
    output = tmp_path / "processing" / "output"
    report = json.loads((output / "report.json").read_text())
    lod = report["formats"]["lod"]
    meta = json.loads((output / "lod" / "lod-meta.json").read_text())
    assert lod["file"] == "lod/lod-meta.json" and report["lod_skipped"] is None
    assert lod["counts"] == meta["counts"] and lod["counts"][-1] <= 300 < lod["counts"][0]
    # Every kept splat is in level 0 or in the environment, which holds the background.
    assert report["background_splats"] > 0 and lod["environment_splats"] == report["background_splats"]
    assert lod["counts"][0] + lod["environment_splats"] == report["splats"]
    assert meta["environment"] == "env/meta.json" and meta["extras"]["view"]["position"]
    assert lod["bytes"] == sum(path.stat().st_size for path in (output / "lod").rglob("*") if path.is_file())
    assert lod["quality"]["views"][0]["psnr_vs_original"] > 30, "the render check judges the bundle's full detail"


@pytest.mark.slow
def test_bare_ply_with_nan_splats_drops_and_counts_them(tmp_path):
    splats = synthetic_scene(800, sh_degree=0, seed=2)
    splats.means[3, 1] = np.nan
    splats.sh_dc[10, 0] = np.inf
    write_ply(splats, tmp_path / "processing" / "input" / "scene.ply")
    result = run_compress(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((tmp_path / "processing" / "output" / "report.json").read_text())
    assert (report["input_splats"], report["dropped_non_finite"], report["splats"]) == (800, 2, 798)
    assert report["quality_skipped"].startswith("the model carries no held-out cameras")
    names = sorted(p.name for p in (tmp_path / "processing" / "output").iterdir())
    expected = ["report.json", "scene.glb", "scene.sog", "scene.spz", "splat.ply", "tile.glb"]
    assert names == expected, "a bare .ply has no metrics and no view"
    assert report["formats"]["spz"]["quality_skipped"] == report["quality_skipped"]


def failure_of(ml_root: Path, result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    output = ml_root / "processing" / "output"
    assert not output.exists() or not any(output.iterdir()), "a failed run must publish nothing"
    return (ml_root / "output" / "failure").read_text()


def test_ply_missing_properties_fails_with_a_reason(tmp_path):
    ply = tmp_path / "processing" / "input" / "splat.ply"
    ply.parent.mkdir(parents=True)
    ply.write_bytes(b"ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float y\nend_header\n1 2\n")
    reason = failure_of(tmp_path, run_compress(tmp_path))
    assert reason.startswith("compress: BAD_MODEL: splat.ply is missing 3DGS properties: z, f_dc_0")


@pytest.mark.parametrize("name", ["../../escaped.ply", "/etc/escaped.ply"])
def test_archive_escaping_the_workspace_is_refused(tmp_path, name):
    inputs = tmp_path / "processing" / "input"
    inputs.mkdir(parents=True)
    with tarfile.open(inputs / "model.tar.gz", "w:gz") as archive:
        member = tarfile.TarInfo(name)
        member.size = 3
        archive.addfile(member, io.BytesIO(b"ply"))
    reason = failure_of(tmp_path, run_compress(tmp_path))
    assert "unsafe member" in reason and name in reason


def test_a_link_in_the_archive_is_never_followed(tmp_path):
    inputs = tmp_path / "processing" / "input"
    inputs.mkdir(parents=True)
    with tarfile.open(inputs / "model.tar.gz", "w:gz") as archive:
        link = tarfile.TarInfo("splat.ply")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        archive.addfile(link)
    reason = failure_of(tmp_path, run_compress(tmp_path))
    assert reason.startswith("compress: BAD_MODEL: model.tar.gz must hold exactly one splat .ply (found: none)")


def test_all_splats_invalid_fails_with_a_reason(tmp_path):
    splats = synthetic_scene(10, sh_degree=0)
    splats.opacities[:] = np.nan
    write_ply(splats, tmp_path / "processing" / "input" / "splat.ply")
    reason = failure_of(tmp_path, run_compress(tmp_path))
    assert "all 10 splats of splat.ply hold NaN or infinite values" in reason


@pytest.mark.slow
def test_quality_loss_over_the_limit_fails_and_publishes_nothing(tmp_path):
    splats = synthetic_scene(1500, sh_degree=1, seed=1)
    splats.sh_rest *= 8.0  # strong view-dependent colour that a 1-entry palette cannot keep
    write_model_archive(tmp_path, splats)
    result = run_compress(
        tmp_path, "--sh-palette-size", "1", "--max-psnr-loss-db", "0.05", "--quality-image-scale", "1.0"
    )
    reason = failure_of(tmp_path, result)
    assert "dB of PSNR on the held-out photos (limit 0.05 dB)" in reason


@pytest.mark.slow
def test_pruning_shrinks_the_bundle_and_the_check_judges_the_whole_model(tmp_path):
    splats = synthetic_scene(1500, sh_degree=1, seed=1)
    write_model_archive(tmp_path, splats)
    result = run_compress(tmp_path, "--prune-fraction", "0.1", "--quality-image-scale", "1.0")
    assert result.returncode == 0, result.stdout + result.stderr
    output = tmp_path / "processing" / "output"
    report = json.loads((output / "report.json").read_text())
    assert report["input_splats"] == 1500 and report["pruned"] == 150 and report["splats"] == 1350
    assert read_sog(output / "scene.sog").count == 1350
    # Against the full model's render: the dropped splats show up as a loss, however small.
    assert report["quality"]["mean_psnr_vs_original"] < 100.0


def test_prune_fraction_out_of_range_fails_with_a_reason(tmp_path):
    write_ply(synthetic_scene(10, sh_degree=0), tmp_path / "processing" / "input" / "splat.ply")
    reason = failure_of(tmp_path, run_compress(tmp_path, "--prune-fraction", "1"))
    assert "prune_fraction must be at least 0 and below 1, not 1" in reason


def test_unknown_argument_fails_with_a_reason(tmp_path):
    write_ply(synthetic_scene(10, sh_degree=0), tmp_path / "processing" / "input" / "splat.ply")
    reason = failure_of(tmp_path, run_compress(tmp_path, "--palette", "5"))
    assert "unknown hyperparameter(s): palette" in reason
