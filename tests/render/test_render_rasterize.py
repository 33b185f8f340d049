"""The CPU rasterizer renders what a dense float64 evaluation of the same model renders.

The reference composites every Gaussian at every pixel (no tiles, no chunks, no hand-written
backward: autograd does the derivatives), with the alpha rules of gsplat's CUDA kernel. The
rasterizer must agree with it in value and gradient, in float64 to rounding error and in
float32 to float32 precision.
"""

from __future__ import annotations

import pytest
import torch
from gsplat.cuda._torch_impl import _fully_fused_projection, _quat_scale_to_covar_preci

from splatflow.render import composite
from splatflow.render.composite import ALPHA_MAX, ALPHA_MIN, TRANSMITTANCE_MIN
from splatflow.render.rasterize import rasterization
from splatflow.render.sh import colors_from_sh

WIDTH, HEIGHT = 37, 29  # not multiples of the tile size, so partial tiles are exercised


def random_scene(seed: int, count: int, sh_degree: int) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)

    def rand(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=generator, dtype=torch.float64)

    return {
        "means": (rand(count, 3) - 0.5) * torch.tensor([3.0, 2.5, 2.0], dtype=torch.float64)
        + torch.tensor([0.0, 0.0, 4.0], dtype=torch.float64),
        "quats": rand(count, 4) * 2 - 1,
        "scales": rand(count, 3) * 0.25 + 0.02,
        "opacities": rand(count) * 0.98 + 0.01,
        "coeffs": (rand(count, (sh_degree + 1) ** 2, 3) - 0.5) * 0.8,
        "viewmats": torch.eye(4, dtype=torch.float64)[None],
        "Ks": torch.tensor([[[40.0, 0, WIDTH / 2 + 1], [0, 42.0, HEIGHT / 2 - 1], [0, 0, 1]]], dtype=torch.float64),
        "background": torch.tensor([[0.2, 0.5, 0.8]], dtype=torch.float64),
    }


def dense_reference(scene: dict[str, torch.Tensor], sh_degree: int) -> torch.Tensor:
    """(H, W, 3): every Gaussian at every pixel, front to back, gsplat's alpha rules."""
    covars, _ = _quat_scale_to_covar_preci(scene["quats"], scene["scales"], compute_preci=False)
    assert covars is not None
    radii, means2d, depths, conics, _ = _fully_fused_projection(
        scene["means"], covars, scene["viewmats"], scene["Ks"], WIDTH, HEIGHT
    )
    colors = colors_from_sh(scene["means"], scene["coeffs"], scene["viewmats"], sh_degree)[0]
    visible = (radii[0] > 0).all(-1)
    order = torch.argsort(depths[0])
    order = order[visible[order]]
    ys, xs = torch.meshgrid(
        torch.arange(HEIGHT, dtype=torch.float64) + 0.5,
        torch.arange(WIDTH, dtype=torch.float64) + 0.5,
        indexing="ij",
    )
    dx = xs.reshape(-1, 1) - means2d[0, order, 0]
    dy = ys.reshape(-1, 1) - means2d[0, order, 1]
    a, b, c = conics[0, order].unbind(-1)
    sigma = 0.5 * (a * dx * dx + c * dy * dy) + b * dx * dy
    raw = scene["opacities"][order] * torch.exp(-sigma)
    alphas = torch.where((sigma >= 0) & (raw >= ALPHA_MIN), raw.clamp(max=ALPHA_MAX), 0.0)
    through = torch.cumprod(1 - alphas, dim=-1)
    alphas = alphas * (through > TRANSMITTANCE_MIN)
    kept = torch.cumprod(1 - alphas, dim=-1)
    before = torch.cat([torch.ones_like(kept[:, :1]), kept[:, :-1]], dim=-1)
    image = (alphas * before) @ colors[order] + kept[:, -1:] * scene["background"][0]
    return image.reshape(HEIGHT, WIDTH, 3)


def render_with_rasterizer(scene: dict[str, torch.Tensor], sh_degree: int, chunk: int) -> torch.Tensor:
    images, _, _ = rasterization(
        scene["means"],
        scene["quats"],
        scene["scales"],
        scene["opacities"],
        scene["coeffs"],
        scene["viewmats"],
        scene["Ks"],
        WIDTH,
        HEIGHT,
        sh_degree=sh_degree,
        backgrounds=scene["background"],
        chunk=chunk,
    )
    return images[0]


DIFFERENTIABLE = ("means", "quats", "scales", "opacities", "coeffs", "background")


def value_and_gradients(render, scene, dtype, weights):
    leaves = {k: v.detach().to(dtype).requires_grad_(k in DIFFERENTIABLE) for k, v in scene.items()}
    image = render(leaves)
    (image * weights.to(dtype)).sum().backward()
    return image.detach().double(), {k: leaves[k].grad.double() for k in DIFFERENTIABLE}


@pytest.fixture
def poisoned_outputs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Output buffers start as NaN, so a pixel the rasterizer forgets to write shows up."""

    def nan_buffer(shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
        return torch.full(shape, float("nan"), dtype=like.dtype, device=like.device)

    monkeypatch.setattr(composite, "output_buffer", nan_buffer)


@pytest.mark.usefixtures("poisoned_outputs")
@pytest.mark.parametrize(("seed", "count", "sh_degree", "chunk"), [(0, 60, 0, 4), (1, 150, 1, 8), (2, 300, 3, 32)])
@pytest.mark.parametrize(("dtype", "tolerance"), [(torch.float64, 1e-9), (torch.float32, 2e-4)])
def test_rasterizer_matches_dense_reference_in_value_and_gradient(seed, count, sh_degree, chunk, dtype, tolerance):
    scene = random_scene(seed, count, sh_degree)
    weights = torch.rand(HEIGHT, WIDTH, 3, generator=torch.Generator().manual_seed(seed + 100), dtype=torch.float64)

    expected_image, expected_grads = value_and_gradients(
        lambda s: dense_reference(s, sh_degree), scene, torch.float64, weights
    )
    image, grads = value_and_gradients(lambda s: render_with_rasterizer(s, sh_degree, chunk), scene, dtype, weights)

    assert not torch.isnan(image).any()
    assert expected_image.std() > 0.05, "the random scene should not be blank"
    torch.testing.assert_close(image, expected_image, rtol=0, atol=tolerance)
    for name in DIFFERENTIABLE:
        scale = expected_grads[name].abs().max().item()
        assert scale > 0, f"{name} receives no gradient in the reference"
        torch.testing.assert_close(grads[name], expected_grads[name], rtol=0, atol=tolerance * scale * 10, msg=name)


def test_dense_opaque_scene_terminates_early_like_gsplat():
    """Many overlapping near-opaque Gaussians: pixels stop at transmittance 1e-4, as on CUDA."""
    scene = random_scene(3, 400, 0)
    scene["opacities"] = torch.full_like(scene["opacities"], 0.995)
    scene["scales"] = scene["scales"] * 3
    expected = dense_reference(scene, 0)
    image = render_with_rasterizer({k: v.float() for k, v in scene.items()}, 0, 16)
    torch.testing.assert_close(image.double(), expected, rtol=0, atol=2e-4)


def test_a_gaussian_on_the_camera_plane_is_culled_with_zero_gradient_not_nan():
    """SfM can put points exactly where the projection divides by a zero depth."""
    scene = random_scene(4, 50, 0)
    scene["means"][0] = torch.tensor([0.3, -0.2, 0.0], dtype=torch.float64)
    leaves = {k: v.float().requires_grad_(k in DIFFERENTIABLE) for k, v in scene.items()}

    image = render_with_rasterizer(leaves, 0, 8)
    image.sum().backward()

    assert torch.isfinite(image).all()
    for name in ("means", "quats", "scales", "opacities", "coeffs"):
        grad = leaves[name].grad
        assert grad is not None, name
        assert torch.isfinite(grad).all(), name
        assert not grad[0].any(), f"{name}: the culled Gaussian must get no gradient"
    means_grad = leaves["means"].grad
    assert means_grad is not None and means_grad[1:].any()
