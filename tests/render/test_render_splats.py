"""``render_splats``: the numpy entry point other stages use to look at a finished model."""

from __future__ import annotations

import numpy as np

from splatflow.formats.cameras import camera_from_matrices
from splatflow.formats.ply import Splats
from splatflow.render import render_splats


def one_red_splat_in_front_of_camera() -> Splats:
    sh_dc_red = (np.array([[1.0, 0.0, 0.0]], np.float32) - 0.5) / 0.28209479177387814
    return Splats(
        means=np.array([[0.0, 0.0, 3.0]], np.float32),
        scales=np.log(np.full((1, 3), 0.3, np.float32)),
        quats=np.array([[1.0, 0.0, 0.0, 0.0]], np.float32),
        opacities=np.array([8.0], np.float32),
        sh_dc=sh_dc_red,
        sh_rest=np.zeros((1, 3, 3), np.float32),
    )


def test_render_splats_draws_a_splat_over_the_background_where_the_camera_sees_it():
    camera = camera_from_matrices("view", 40, 30, np.array([[50, 0, 20.5], [0, 50, 15.5], [0, 0, 1]]), np.eye(4))
    image = render_splats(one_red_splat_in_front_of_camera(), camera, background=(0.0, 0.0, 1.0))

    assert image.shape == (30, 40, 3) and image.dtype == np.float32
    np.testing.assert_allclose(image[15, 20], [1.0, 0.0, 0.0], atol=0.01)
    np.testing.assert_allclose(image[0, 0], [0.0, 0.0, 1.0], atol=0.01)
    assert image.min() >= 0.0 and image.max() <= 1.0
