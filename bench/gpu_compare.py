"""Our CPU rasterizer against gsplat's CUDA ``rasterization``: images and gradients on random scenes.

    python bench/gpu_compare.py --device cuda   # on a GPU machine with gsplat's extension built
    python bench/gpu_compare.py --device cpu    # dry run: the reference is our own rasterizer in
                                                # float64, which checks the script, not gsplat

The trainer swaps the two rasterizers by device, so they must agree: the same scene (random
Gaussians in front of a camera, SH degree 0 to 3, packed and unpacked) is rendered by both, a
fixed weighting of the image is back-propagated through both, and the table gives the largest
pixel difference and each parameter's relative gradient error (|g_ours - g_ref| / |g_ref|).
Small differences are expected: gsplat's 16-pixel tiles cull with a radius bound that uses the
opacity, ours use 8-pixel tiles and an exact per-tile test (``splatflow.render.tiles``).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from splatflow.render.rasterize import rasterization as cpu_rasterization

PARAMETERS = ("means", "quats", "scales", "opacities", "colors")


@dataclass(frozen=True)
class Case:
    count: int
    width: int
    height: int
    sh_degree: int
    packed: bool
    seed: int


CASES = [
    Case(2_000, 128, 96, 0, True, 0),
    Case(2_000, 128, 96, 3, False, 1),
    Case(20_000, 256, 144, 1, True, 2),
    Case(20_000, 256, 144, 3, False, 3),
    Case(50_000, 320, 240, 3, True, 4),
]


def random_scene(case: Case) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(case.seed)

    def rand(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=generator)

    focal = 0.9 * case.width
    return {
        "means": (rand(case.count, 3) - 0.5) * torch.tensor([4.0, 3.0, 3.0]) + torch.tensor([0.0, 0.0, 5.0]),
        "quats": rand(case.count, 4) * 2 - 1,
        "scales": rand(case.count, 3) * 0.04 + 0.004,
        "opacities": rand(case.count) * 0.95 + 0.02,
        "colors": (rand(case.count, (case.sh_degree + 1) ** 2, 3) - 0.5) * 0.8,
        "viewmats": torch.eye(4)[None],
        "Ks": torch.tensor([[[focal, 0, case.width / 2], [0, focal, case.height / 2], [0, 0, 1]]]),
    }


def render_and_backward(
    rasterizer: Callable[..., Any], scene: dict[str, torch.Tensor], case: Case, device: str, dtype: torch.dtype
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    leaves = {
        name: value.detach().to(device, dtype).clone().requires_grad_(name in PARAMETERS)
        for name, value in scene.items()
    }
    images, _, _ = rasterizer(
        *(leaves[name] for name in (*PARAMETERS, "viewmats", "Ks")),
        case.width,
        case.height,
        sh_degree=case.sh_degree,
        packed=case.packed,
    )
    weights = torch.linspace(0.5, 1.5, case.width, device=device, dtype=dtype)[None, None, :, None]
    (images * weights).sum().backward()
    gradients = {name: leaves[name].grad.detach().double().cpu() for name in PARAMETERS}  # type: ignore[union-attr]
    return images.detach().double().cpu(), gradients


def compare(case: Case, reference: Callable[..., Any], device: str, dtype: torch.dtype) -> str:
    scene = random_scene(case)
    ours, our_gradients = render_and_backward(cpu_rasterization, scene, case, "cpu", torch.float32)
    theirs, their_gradients = render_and_backward(reference, scene, case, device, dtype)
    errors = [
        float((our_gradients[name] - their_gradients[name]).norm() / their_gradients[name].norm().clamp_min(1e-30))
        for name in PARAMETERS
    ]
    return (
        f"| {case.count} | {case.width}x{case.height} | {case.sh_degree} | {case.packed} | "
        f"{float((ours - theirs).abs().max()):.2e} | {float((ours - theirs).abs().mean()):.2e} | "
        + " | ".join(f"{error:.2e}" for error in errors)
        + " |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    args = parser.parse_args()
    if args.device == "cuda":
        from gsplat import rasterization as reference

        dtype = torch.float32
        print(f"reference: gsplat's CUDA rasterization on {torch.cuda.get_device_name(0)}\n")
    else:
        reference, dtype = cpu_rasterization, torch.float64
        print("dry run: reference is our rasterizer in float64 on the CPU (no gsplat)\n")
    print(
        "| Gaussians | size | SH | packed | max pixel diff | mean pixel diff | "
        + " | ".join(f"grad {name}" for name in PARAMETERS)
        + " |\n|---:|---|---:|---|---:|---:|"
        + "---:|" * len(PARAMETERS)
    )
    for case in CASES:
        print(compare(case, reference, args.device, dtype), flush=True)


if __name__ == "__main__":
    main()
