"""What the photos look at and what is background, on captures whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic_captures import CAPTURES, SUBJECT_CENTRE, nadir_grid, photo_positions, scene_with_background

from splatflow.render.capture_views import read_capture, subject_mask


def test_a_nadir_photo_aims_at_the_ground_below_it() -> None:
    photos = nadir_grid()
    scene, _ = scene_with_background()

    capture = read_capture(photos, scene.means)

    below = photo_positions(photos) * np.array([1.0, 1.0, 0.0])
    inside = np.abs(below[:, :2]).max(axis=1) < 15  # over the ground, not only the block's roof
    assert np.allclose(capture.aim_points[inside, :2], below[inside, :2], atol=1e-6)
    assert (capture.aim_points[:, 2] < 12.5).all(), "on the ground or the block's roof"
    assert capture.radius == pytest.approx(24.0)


@pytest.mark.parametrize("geometry", sorted(CAPTURES))
def test_the_far_background_is_not_the_subject_and_all_the_subject_is(geometry: str) -> None:
    scene, is_subject = scene_with_background()
    capture = read_capture(CAPTURES[geometry](), scene.means)

    near = subject_mask(capture, scene.means)

    assert not near[~is_subject].any(), "no horizon or sky splat is framed"
    assert near[is_subject].mean() > 0.5, "what the photos look at is framed"
    assert np.linalg.norm(capture.subject - SUBJECT_CENTRE) < 10.0


def test_photos_that_see_no_splat_are_refused_in_words() -> None:
    scene, _ = scene_with_background()
    with pytest.raises(ValueError, match="none of the photos"):
        read_capture(nadir_grid(), scene.means[:10] + np.array([0, 0, 500.0]))
