"""Our CPU rasterizer keeps gsplat 1.5.3's calling convention and meta layout, packed and unpacked.

The reference is gsplat's own ``rasterization`` running on the CPU (``gsplat_standin``: its real
Python, its kernels swapped for pure-PyTorch ones), so a difference in argument names, defaults,
meta keys, shapes or dtypes between the two rasterizers the trainer swaps shows here. The images
are compared too: two independent compositors (ours with tiles, chunks and a hand-written
backward; the stand-in's per tile with autograd) following the same CUDA kernel.
"""

from __future__ import annotations

import inspect
from typing import Any

import gsplat
import pytest
import torch
from gsplat_standin import gsplat_on_cpu

from splatflow.render.rasterize import rasterization

WIDTH, HEIGHT = 40, 30
COUNT = 60
OURS_ONLY = {"chunk"}
"""Our compositor's chunk width, a tuning knob gsplat does not have."""


def scene(seed: int) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)

    def rand(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=generator)

    viewmats = torch.eye(4).repeat(2, 1, 1)
    viewmats[1, 0, 3] = 1.5  # a second camera, shifted: some Gaussians leave its view
    return {
        "means": (rand(COUNT, 3) - 0.5) * torch.tensor([3.0, 2.4, 1.5]) + torch.tensor([0.0, 0.0, 3.5]),
        "quats": rand(COUNT, 4) * 2 - 1,
        "scales": rand(COUNT, 3) * 0.15 + 0.03,
        "opacities": rand(COUNT) * 0.9 + 0.05,
        "colors": (rand(COUNT, 4, 3) - 0.5) * 0.8,
        "viewmats": viewmats,
        "Ks": torch.tensor([[30.0, 0, WIDTH / 2], [0, 30.0, HEIGHT / 2], [0, 0, 1]]).repeat(2, 1, 1),
    }


def render(rasterizer, values: dict[str, torch.Tensor], packed: bool, rasterize_mode: str = "classic"):
    leaves = {name: value.clone().requires_grad_(True) for name, value in values.items()}
    images, alphas, meta = rasterizer(
        leaves["means"],
        leaves["quats"],
        leaves["scales"],
        leaves["opacities"],
        leaves["colors"],
        leaves["viewmats"],
        leaves["Ks"],
        WIDTH,
        HEIGHT,
        sh_degree=1,
        packed=packed,
        backgrounds=torch.tensor([[0.1, 0.2, 0.3], [0.3, 0.2, 0.1]]),
        rasterize_mode=rasterize_mode,
    )
    meta["means2d"].retain_grad()
    (images * torch.linspace(0.5, 1.5, 3)).sum().backward()
    return images, alphas, meta, leaves


def test_signature_is_a_prefix_compatible_subset_of_gsplats():
    ours = inspect.signature(rasterization).parameters
    theirs = inspect.signature(gsplat.rasterization).parameters

    shared = [name for name in ours if name not in OURS_ONLY]
    assert all(name in theirs for name in shared), sorted(set(shared) - set(theirs))
    assert [name for name in theirs if name in ours] == shared  # same order, so positions agree too
    for name in shared:
        assert ours[name].default == theirs[name].default, name


MODES = pytest.mark.parametrize("rasterize_mode", ["classic", "antialiased"])


@MODES
@pytest.mark.parametrize("packed", [True, False], ids=["packed", "unpacked"])
def test_meta_has_gsplats_layout_and_values(monkeypatch, packed, rasterize_mode):
    values = scene(3)
    _, _, ours, _ = render(rasterization, values, packed, rasterize_mode)
    _, _, theirs, _ = render(gsplat_on_cpu(monkeypatch), values, packed, rasterize_mode)

    assert set(ours) <= set(theirs)
    for key, value in ours.items():
        reference = theirs[key]
        if isinstance(value, torch.Tensor):
            assert (value.shape, value.dtype) == (reference.shape, reference.dtype), key
            torch.testing.assert_close(value, reference, rtol=1e-4, atol=1e-4, msg=key)
        else:
            assert value == reference or key == "tile_size", key  # our tiles are 8 px, gsplat's 16
    if packed:
        assert ours["means2d"].shape[0] < 2 * COUNT  # some Gaussians are outside a camera's view


@MODES
@pytest.mark.parametrize("packed", [True, False], ids=["packed", "unpacked"])
def test_images_and_gradients_match_gsplats_own_pipeline(monkeypatch, packed, rasterize_mode):
    values = scene(5)
    our_images, our_alphas, our_meta, our_leaves = render(rasterization, values, packed, rasterize_mode)
    images, alphas, meta, leaves = render(gsplat_on_cpu(monkeypatch), values, packed, rasterize_mode)

    torch.testing.assert_close(our_images, images, rtol=1e-4, atol=2e-5)
    torch.testing.assert_close(our_alphas, alphas, rtol=1e-4, atol=2e-5)
    torch.testing.assert_close(our_meta["means2d"].grad, meta["means2d"].grad, rtol=1e-3, atol=1e-5)
    for name in ("means", "scales", "opacities", "colors"):
        torch.testing.assert_close(our_leaves[name].grad, leaves[name].grad, rtol=1e-3, atol=1e-5, msg=name)


def test_antialiased_mode_makes_a_splat_thinner_than_a_pixel_as_faint_as_it_is_thin():
    """One needle, 0.02 px wide on screen: classic mode draws it at full opacity, a third of a
    pixel wide (the 2D dilation); the antialiased mode scales its opacity by its share of that
    footprint, so it barely shows, while a splat 3 px wide loses only a few percent."""
    values = scene(3)
    peaks = {}
    for name, minor in (("needle", 0.0005), ("wide", 0.3)):
        for mode in ("classic", "antialiased"):
            _, alphas, _ = rasterization(
                torch.tensor([[0.0, 0.0, 3.0]]),
                torch.tensor([[1.0, 0.0, 0.0, 0.0]]),
                torch.tensor([[0.5, minor, 0.5]]),
                torch.tensor([0.9]),
                torch.ones(1, 3),
                values["viewmats"][:1],
                values["Ks"][:1],
                WIDTH,
                HEIGHT,
                rasterize_mode=mode,
            )
            peaks[name, mode] = float(alphas.max())
    assert peaks["needle", "classic"] > 0.5
    assert peaks["needle", "antialiased"] < 0.1 * peaks["needle", "classic"]
    assert peaks["wide", "antialiased"] == pytest.approx(peaks["wide", "classic"], rel=0.05)


def test_an_unknown_rasterize_mode_is_refused():
    values = scene(3)
    mode: Any = "mip"  # not one of the two modes: the call this test makes is the one mypy refuses
    with pytest.raises(ValueError, match="rasterize_mode"):
        rasterization(
            values["means"],
            values["quats"],
            values["scales"],
            values["opacities"],
            values["colors"],
            values["viewmats"],
            values["Ks"],
            WIDTH,
            HEIGHT,
            sh_degree=1,
            rasterize_mode=mode,
        )
