"""Floaters: the splats no photo shows as its surface go; every surface a photo shows stays."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from PIL import Image
from synthetic_floaters import FloaterScene, floater_scene

from splatflow.contract.compress_settings import Settings
from splatflow.formats.cameras import write_cameras
from splatflow.formats.ply import write_ply
from splatflow.formats.sog import read_sog
from splatflow.render import render_splats, to_8_bit
from splatflow.stages.compress.encoder import reordered
from splatflow.stages.compress.floaters import floater_mask
from splatflow.stages.compress.inputs import ModelInput
from splatflow.stages.compress.stage import compress, without_floaters
from splatflow.stages.harness import FailureCode, StageError

DEFAULTS = Settings()


@pytest.fixture(scope="module")
def scene() -> FloaterScene:
    return floater_scene()


def model_folder(folder, scene: FloaterScene, photo_cameras: bool = True) -> ModelInput:
    """A model folder as training writes it, two of the photos held out; their photos show the
    place without the floaters, as a camera would."""
    folder.mkdir(parents=True, exist_ok=True)
    place = reordered(scene.splats, np.flatnonzero(~scene.floaters))
    write_ply(scene.splats, folder / "splat.ply")
    held_out = [scene.photos[1], scene.photos[8]]
    write_cameras(held_out, folder / "cameras.json", up=[0.0, 0.0, 1.0])
    (folder / "holdout").mkdir()
    for camera in held_out:
        # A photo differs from the model's render (about 26 dB here, as trained scenes do).
        noise = np.random.default_rng(0).normal(scale=0.05, size=(camera.height, camera.width, 3))
        photo = to_8_bit((render_splats(place, camera) + noise).clip(0, 1).astype(np.float32))
        Image.fromarray(photo).save(folder / "holdout" / f"{camera.name}.png")
    if photo_cameras:
        write_cameras(scene.photos, folder / "photo_cameras.json", up=[0.0, 0.0, 1.0])
    return ModelInput(
        ply=folder / "splat.ply",
        cameras=folder / "cameras.json",
        holdout_photos=folder / "holdout",
        photo_cameras=(folder / "photo_cameras.json") if photo_cameras else None,
    )


def kept_parts(scene: FloaterScene, kept_means: np.ndarray) -> np.ndarray:
    """Which of the scene's splats are among ``kept_means`` (every centre is distinct)."""
    kept = {tuple(row) for row in kept_means.tolist()}
    return np.array([tuple(row) in kept for row in scene.splats.means.tolist()])


def test_the_floaters_go_and_every_seen_surface_and_the_sky_stay(tmp_path, scene):
    kept, summary, skipped = without_floaters(scene.splats, model_folder(tmp_path, scene), DEFAULTS)

    stays = kept_parts(scene, kept.means)
    for name in ("haze", "near_camera", "hidden"):
        assert not stays[scene.parts[name]].any(), f"{name} floaters are gone"
    assert stays[scene.parts["ground"]].all(), "every splat of the ground the photos show stays"
    assert scene.sky_in_view.sum() > 100
    assert stays[scene.sky_in_view].all(), "the sky the photos show stays, 2 km out"
    assert skipped is None and summary is not None and summary["removed"] == scene.splats.count - kept.count
    assert summary["photos"] == len(scene.photos)
    # The held-out photos show the place without its haze: the views come closer to them.
    assert summary["held_out_psnr_after_db"] > summary["held_out_psnr_before_db"]


def test_haze_goes_for_being_in_front_of_what_the_photos_show_not_for_being_faint(scene):
    """The same haze with nothing behind it (the ground and the sky taken away) is what the photos
    show where it is: most of it then stays. In the scene, every photo looks through it, and it goes."""
    haze_only = reordered(scene.splats, np.flatnonzero(scene.parts["haze"]))
    alone = floater_mask(haze_only, scene.photos, DEFAULTS.floater_min_pixels, DEFAULTS.floater_image_scale)
    assert alone.mean() < 0.5


def test_disabled_or_without_photo_views_nothing_is_removed_and_the_report_says_why(tmp_path, scene):
    off = dataclasses.replace(DEFAULTS, remove_floaters=False)
    kept, summary, skipped = without_floaters(scene.splats, model_folder(tmp_path / "a", scene), off)
    assert (kept, summary, skipped) == (scene.splats, None, "disabled by the remove_floaters setting")
    older = model_folder(tmp_path / "b", scene, photo_cameras=False)
    kept, summary, skipped = without_floaters(scene.splats, older, DEFAULTS)
    assert kept is scene.splats and summary is None
    assert skipped is not None and skipped.startswith("the model carries no photo_cameras.json")


@pytest.mark.parametrize("change", [{"floater_min_pixels": -1.0}, {"floater_image_scale": 0.0}])
def test_bad_floater_settings_fail_the_stage_naming_them(tmp_path, scene, change):
    model = ModelInput(ply=tmp_path / "splat.ply", cameras=None, holdout_photos=None, photo_cameras=None)
    with pytest.raises(StageError) as raised:
        without_floaters(scene.splats, model, dataclasses.replace(DEFAULTS, **change))
    assert raised.value.code == FailureCode.INVALID_SETTINGS
    assert next(iter(change)) in str(raised.value)


@pytest.mark.slow
def test_the_bundle_holds_no_floater_and_the_report_counts_them(tmp_path, scene):
    model = model_folder(tmp_path / "model", scene)
    output = tmp_path / "output"
    output.mkdir()
    report = compress(model, output, DEFAULTS)

    bundle = read_sog(output / "scene.sog")
    written = json.loads((output / "report.json").read_text())
    assert written["floaters"]["removed"] == scene.splats.count - bundle.count == (report.floaters or {})["removed"]
    assert written["floaters_skipped"] is None and written["splats"] == bundle.count
    # The bundle's splats sit within its quantisation of a kept splat, never of a floater.
    floaters = scene.splats.means[scene.floaters].astype(np.float64)
    nearest = np.linalg.norm(bundle.means[:, None, :] - floaters[None], axis=2).min(axis=1)
    assert nearest.min() > 0.05
    assert written["floaters"]["held_out_psnr_after_db"] > written["floaters"]["held_out_psnr_before_db"]
