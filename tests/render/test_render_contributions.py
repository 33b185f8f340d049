"""A splat's weight in a view is its alpha times the transmittance in front of it, over the pixels."""

from __future__ import annotations

import math

import numpy as np
import torch
from synthetic_captures import camera_looking
from synthetic_floaters import FAINT, OPAQUE, joined, splats_at

from splatflow.render import camera_tensors, rasterization
from splatflow.render.contributions import view_contributions

CAMERA = camera_looking(np.array([0.0, 0.0, 10.0]), np.array([0.0, 0.0, -1.0]), "top.jpg")


def test_the_weights_add_up_to_the_accumulated_alpha_and_the_front_splat_hides_the_back_one():
    # A faint splat 4 m in front of an opaque one, both on the optical axis, and one off to the side.
    front = splats_at(np.array([[0.0, 0.0, 4.0]]), 0.5, FAINT)
    back = splats_at(np.array([[0.0, 0.0, 0.0], [3.0, 0.0, 0.0]]), 0.5, OPAQUE)
    splats = joined([front, back])
    view = view_contributions(splats, CAMERA)

    viewmat, intrinsics = camera_tensors(CAMERA, torch.device("cpu"))
    _, alphas, _ = rasterization(
        torch.as_tensor(splats.means),
        torch.as_tensor(splats.quats),
        torch.exp(torch.as_tensor(splats.scales)),
        torch.sigmoid(torch.as_tensor(splats.opacities)),
        torch.zeros(3, 3),
        viewmat,
        intrinsics,
        CAMERA.width,
        CAMERA.height,
    )
    assert math.isclose(view.weights.sum(), float(alphas.sum()), rel_tol=1e-4)
    # The two opaque ones lie side by side at the same depth: the one behind the faint splat
    # gives up to it what the faint one takes.
    assert 0 < view.weights[0] < view.weights[1] < view.weights[2]


def test_the_surface_depth_is_that_of_the_opaque_splat_behind_a_faint_one():
    front = splats_at(np.array([[0.0, 0.0, 4.0]]), 0.5, FAINT)
    back = splats_at(np.array([[0.0, 0.0, 0.0]]), 0.5, OPAQUE)
    view = view_contributions(joined([front, back]), CAMERA)
    centre = view.surface_depth[CAMERA.height // 2, CAMERA.width // 2]
    assert 9.0 < centre < 10.0, "10 m down to the opaque splat, a little nearer for the faint one"
    assert np.isinf(view.surface_depth[0, 0]), "a corner shows nothing"
