"""What the stage writes reads back unchanged, and images score as expected."""

from __future__ import annotations

import numpy as np
import torch
from plyfile import PlyData

from splatflow.formats.ply import read_ply, write_ply
from splatflow.stages.train.metrics import psnr, ssim
from splatflow.stages.train.outputs import splats_from_parameters


def trained_parameters(count: int = 50) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return {
        "means": torch.randn(count, 3, generator=generator),
        "scales": torch.randn(count, 3, generator=generator),
        "quats": torch.randn(count, 4, generator=generator),
        "opacities": torch.randn(count, generator=generator),
        "sh0": torch.randn(count, 1, 3, generator=generator),
        "shN": torch.randn(count, 15, 3, generator=generator),
    }


def test_ply_of_trained_parameters_reads_back_bit_exact(tmp_path):
    params = trained_parameters()
    write_ply(splats_from_parameters(params, sh_degree=3), tmp_path / "splat.ply")

    back = read_ply(tmp_path / "splat.ply")
    vertex = PlyData.read(str(tmp_path / "splat.ply"))["vertex"]
    np.testing.assert_array_equal(back.means, params["means"].numpy())
    np.testing.assert_array_equal(back.sh_rest, params["shN"].numpy())
    np.testing.assert_array_equal(back.sh_dc, params["sh0"][:, 0].numpy())
    # Inria layout: f_rest is channel-major, so f_rest_1 is red's second coefficient.
    np.testing.assert_array_equal(np.asarray(vertex["f_rest_1"]), params["shN"][:, 1, 0].numpy())
    np.testing.assert_array_equal(np.asarray(vertex["opacity"]), params["opacities"].numpy())


def test_lower_sh_degree_keeps_only_its_coefficients():
    splats = splats_from_parameters(trained_parameters(), sh_degree=1)
    assert splats.sh_degree == 1 and splats.sh_rest.shape == (50, 3, 3)


def test_psnr_and_ssim_of_known_images():
    image = torch.full((32, 32, 3), 0.5)
    assert abs(psnr(image, image + 0.1) - 20.0) < 1e-4
    assert abs(float(ssim(image, image)) - 1.0) < 1e-6
    noisy = (image + 0.2 * torch.randn(32, 32, 3, generator=torch.Generator().manual_seed(1))).clamp(0, 1)
    assert float(ssim(noisy, image)) < 0.5
