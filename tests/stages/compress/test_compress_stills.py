"""The stills frame the subject from where the photos were taken, whatever the capture's geometry
(a nadir grid, an orbit, a street), with the up the training stage wrote or, for an older model,
the one its held-out cameras give; the viewer gets the same first view."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from PIL import Image
from synthetic_captures import (
    CAPTURES,
    SUBJECT_CENTRE,
    UP,
    envelope_figures,
    in_frame,
    photo_positions,
    scene_with_background,
    share_in_frame,
)
from synthetic_scene import synthetic_scene

from splatflow.formats.cameras import camera_from_matrices, write_cameras
from splatflow.stages.compress.stills import ORBIT_SIZE, PREVIEW_SIZE, site_views, write_stills

LOOKING_DOWN_FROM_60_M = [[1, 0, 0, 0], [0, -1, 0, 0], [0, 0, -1, 60], [0, 0, 0, 1]]
NADIR = camera_from_matrices("DJI_0022.JPG", 64, 48, [[40, 0, 32], [0, 40, 24], [0, 0, 1]], LOOKING_DOWN_FROM_60_M)
"""A photo taken straight down from 60 m over the synthetic scene (z up)."""


def test_views_use_the_up_the_model_carries(tmp_path):
    scene = synthetic_scene(2000, sh_degree=0, seed=1)
    turn = np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]])  # z up -> y down, as COLMAP frames are
    turned = scene.means @ turn.T
    world_to_camera = NADIR.view_matrix()
    world_to_camera[:3, :3] = world_to_camera[:3, :3] @ turn.T
    photo = camera_from_matrices(NADIR.name, NADIR.width, NADIR.height, NADIR.intrinsics(), world_to_camera)
    write_cameras([photo], tmp_path / "cameras.json", up=[0.0, -1.0, 0.0])

    views = site_views(dataclasses.replace(scene, means=turned.astype(np.float32)), tmp_path / "cameras.json")

    assert views is not None
    np.testing.assert_array_equal(views.up, [0.0, -1.0, 0.0])
    position = views.viewer_extras()["view"]["position"]
    assert np.dot(position, views.up) > (turned @ views.up).max(), "the first view is above the site"


def test_an_older_model_without_up_takes_it_from_its_held_out_cameras(tmp_path):
    scene = synthetic_scene(2000, sh_degree=0, seed=1)
    write_cameras([NADIR], tmp_path / "cameras.json")

    views = site_views(scene, tmp_path / "cameras.json")

    assert views is not None
    np.testing.assert_allclose(views.up, [0.0, 0.0, 1.0], atol=0.01)
    assert views.holdout == NADIR


def test_a_bare_ply_has_no_views_and_gets_no_stills(tmp_path):
    assert site_views(synthetic_scene(100, sh_degree=0), None) is None
    assert write_stills(synthetic_scene(100, sh_degree=0), None, None, tmp_path) is False
    assert list(tmp_path.iterdir()) == []


def test_stills_and_the_viewers_first_view(tmp_path):
    scene = synthetic_scene(2000, sh_degree=0, seed=1)
    scene.scales += np.float32(np.log(4.0))  # a few pixels each, as a trained scene's splats are
    write_cameras([NADIR], tmp_path / "cameras.json", up=[0.0, 0.0, 1.0])
    views = site_views(scene, tmp_path / "cameras.json")
    assert views is not None

    assert write_stills(scene, views, None, tmp_path) is True

    with Image.open(tmp_path / "preview.png") as preview:
        assert preview.size == PREVIEW_SIZE
        drawn = np.asarray(preview).max(axis=2) > 10
    rows, columns = np.flatnonzero(drawn.any(axis=1)), np.flatnonzero(drawn.any(axis=0))
    assert np.ptp(rows) > 0.8 * PREVIEW_SIZE[1] or np.ptp(columns) > 0.8 * PREVIEW_SIZE[0], "the site fills the frame"
    for index in (1, 2, 3):
        with Image.open(tmp_path / f"orbit_{index}.png") as orbit:
            assert orbit.size == ORBIT_SIZE
            assert (np.asarray(orbit).max(axis=2) > 10).mean() > 0.1, "each thumbnail shows the site"
    assert not (tmp_path / "comparison.png").exists(), "no held-out photo, no comparison"
    extras = json.loads(json.dumps(views.viewer_extras()))
    assert extras["up"] == [0.0, 0.0, 1.0]
    assert extras["view"]["target"] == [float(v) for v in views.preview.target]


@pytest.mark.parametrize("geometry", sorted(CAPTURES))
def test_the_preview_stands_where_the_photos_were_taken_and_looks_like_them(tmp_path, geometry):
    photos = CAPTURES[geometry]()
    scene, is_subject = scene_with_background()
    write_cameras(photos, tmp_path / "cameras.json", up=UP)

    views = site_views(scene, tmp_path / "cameras.json")

    assert views is not None
    figures = envelope_figures(views.preview.camera, photos)
    assert figures["angle_to_photo_deg"] <= 30.0, figures
    subject = scene.means[is_subject].astype(np.float64)
    if geometry == "nadir grid":
        # A survey from above: straight down, climbed over the site until all of it is in frame.
        assert figures["from_straight_down_deg"] <= 30.0, figures
        assert share_in_frame(views.preview.camera, subject) >= 0.9, "the whole surveyed area"
    else:
        assert figures["nearest_photo_m"] <= figures["survey_radius_m"], figures
        assert share_in_frame(views.preview.camera, subject) >= 0.6, "the subject fills the frame"
    assert np.linalg.norm(views.preview.target - SUBJECT_CENTRE) < 10.0, "the view looks at the subject"


@pytest.mark.parametrize("geometry", sorted(CAPTURES))
def test_the_far_background_never_sets_the_framing(tmp_path, geometry):
    photos = CAPTURES[geometry]()
    scene, is_subject = scene_with_background()
    write_cameras(photos, tmp_path / "cameras.json", up=UP)
    alone = dataclasses.replace(
        scene,
        **{
            name: getattr(scene, name)[is_subject]
            for name in ("means", "scales", "quats", "opacities", "sh_dc", "sh_rest")
        },
    )

    with_background = site_views(scene, tmp_path / "cameras.json")
    without = site_views(alone, tmp_path / "cameras.json")

    assert with_background is not None and without is not None
    for mixed, clean in zip(
        [with_background.preview, *with_background.orbits], [without.preview, *without.orbits], strict=True
    ):
        eye_mixed = photo_positions([mixed.camera])[0]
        eye_clean = photo_positions([clean.camera])[0]
        assert np.linalg.norm(eye_mixed - eye_clean) < 5.0


@pytest.mark.parametrize("geometry", sorted(CAPTURES))
def test_the_far_background_is_counted_and_kept(tmp_path, geometry):
    scene, is_subject = scene_with_background()
    photos = CAPTURES[geometry]()
    write_cameras(photos, tmp_path / "cameras.json", up=UP)

    views = site_views(scene, tmp_path / "cameras.json")

    assert views is not None
    subject = scene.means[is_subject].astype(np.float64)
    unseen = ~np.any([in_frame(photo, subject) for photo in photos], axis=0)
    far = int((~is_subject).sum())
    # All the far splats, and of the subject's at most those outside every photo.
    assert far <= views.background_splats <= far + int(unseen.sum())
