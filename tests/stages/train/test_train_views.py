"""Training photos stay 8-bit in host memory; a step gets one photo, as float, on its device."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 - the conventional alias

from splatflow.formats.cameras import camera_from_matrices
from splatflow.stages.train.dataset import load_scene
from splatflow.stages.train.views import photo_bytes, photo_on_device, view_tensors

PIXELS = np.random.default_rng(3).integers(0, 256, (24, 32, 3), dtype=np.uint8)


def test_the_stage_loads_photos_as_8_bit_pixels(sfm_channel):
    scene = load_scene(sfm_channel, holdout_every=8, max_width=96)

    assert all(view.photo.dtype == np.uint8 for view in scene.training + scene.holdout)
    assert all(view.photo.shape == (view.camera.height, view.camera.width, 3) for view in scene.training)


def test_a_step_gets_the_photo_as_float_in_0_1_on_its_device():
    photo = photo_on_device(PIXELS, (32, 24), torch.device("cpu"))

    assert photo.dtype == torch.float32 and photo.shape == (24, 32, 3)
    torch.testing.assert_close(photo, torch.from_numpy(PIXELS.astype(np.float32) / 255.0))


def test_a_coarse_step_gets_the_area_downscaled_photo_and_camera():
    intrinsics = np.array([[30.0, 0, 16], [0, 30.0, 12], [0, 0, 1]])
    camera = camera_from_matrices("a.png", 32, 24, intrinsics, np.eye(4))

    half = view_tensors(camera, PIXELS, 0.5, torch.device("cpu"))

    full = torch.from_numpy(PIXELS.astype(np.float32) / 255.0).permute(2, 0, 1)[None]
    expected = F.interpolate(full, size=(12, 16), mode="area")[0].permute(1, 2, 0)
    assert (half.width, half.height) == (16, 12)
    torch.testing.assert_close(half.photo, expected)
    torch.testing.assert_close(half.intrinsics[0, 0, 0], torch.tensor(15.0))


def test_photo_bytes_count_every_resolution_level():
    assert photo_bytes(1600, 1200, 1, 1) == 5_760_000
    assert photo_bytes(1600, 1200, 3, 4) == 4 * 3 * (1600 * 1200 + 800 * 600 + 400 * 300)
