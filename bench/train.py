"""Training throughput and quality: rasterizer steps/s, and held-out PSNR vs steps on an SfM output.

    python bench/train.py                    # rasterizer fwd+bwd steps/s at 256x144, 20k/50k Gaussians
    python bench/train.py --sfm PATH         # also train the preview preset as a job would (its own
                                             # 5-minute budget and plateau stop) on an sfm channel
    python bench/train.py --sfm PATH --steps 3000  # ... or a fixed number of steps, no early stop
    python bench/train.py --counts --sfm PATH --rasterize-mode classic --anisotropy-weight 0
                                             # the preset with the needle measures turned off
    python bench/train.py --counts --sfm PATH --preset standard --seconds 180 --max-width 1600
                                             # a preset for a fixed time, no early stop (bench/gpu_check.sh)
    python bench/train.py --counts --sfm PATH --set refine_stop_step=600 --model-out /tmp/model
                                             # a candidate setting; the model folder for bench/views.py
    python bench/train.py --counts --sfm PATH --seen-holdout
                                             # the ceiling: the held-out views trained on too

Uses the CUDA rasterizer when a GPU is present, the pure-PyTorch one otherwise, with the training
stage's CPU thread setting, and prints Markdown tables for docs/benchmarks.md, with the peak
memory (GPU memory allocated on CUDA, the process's resident set on CPU), the needle measure (99th
percentile of each Gaussian's largest / smallest axis) and the mean colour error of the held-out
renders against their photos (8-bit steps). The load average is printed too: on a shared machine
the figures move with it.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from splatflow.contract.train_settings import PRESETS, Settings
from splatflow.render import select_rasterizer
from splatflow.render.threads import use_cpu_threads
from splatflow.stages.train.dataset import load_scene
from splatflow.stages.train.outputs import splats_from_parameters, write_model
from splatflow.stages.train.trainer import Trainer

WIDTH, HEIGHT = 256, 144


def random_gaussians(count: int, device: torch.device) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    means = (torch.rand(count, 3, generator=generator) - 0.5) * torch.tensor([4.0, 2.5, 2.0]) + torch.tensor(
        [0.0, 0.0, 4.0]
    )
    tensors = [
        means,
        torch.randn(count, 4, generator=generator),
        torch.rand(count, 3, generator=generator) * 0.05 + 0.005,
        torch.rand(count, generator=generator),
        torch.rand(count, 1, 3, generator=generator),
    ]
    return [t.to(device).requires_grad_(True) for t in tensors]


def rasterizer_steps_per_second(count: int, device: torch.device, repeats: int) -> float:
    rasterize = select_rasterizer(device)
    means, quats, scales, opacities, colors = random_gaussians(count, device)
    viewmat = torch.eye(4, device=device)[None]
    intrinsics = torch.tensor([[[200.0, 0, WIDTH / 2], [0, 200.0, HEIGHT / 2], [0, 0, 1]]], device=device)
    target = torch.rand(HEIGHT, WIDTH, 3, device=device)

    def step() -> None:
        image, _, _ = rasterize(
            means, quats, scales, opacities, colors, viewmat, intrinsics, WIDTH, HEIGHT, sh_degree=0
        )
        (image[0] - target).abs().mean().backward()

    step()
    started = time.perf_counter()
    for _ in range(repeats):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return repeats / (time.perf_counter() - started)


def training_curve(
    sfm: Path,
    settings: Settings,
    device: torch.device,
    checkpoints: Path,
    model_out: Path | None,
    label: str,
    seen_holdout: bool,
) -> None:
    scene = load_scene(sfm, settings.holdout_every, settings.max_width or 320)
    if seen_holdout:
        scene = dataclasses.replace(scene, training=scene.training + scene.holdout)
    trainer = Trainer(settings, scene, device, checkpoints)
    result = trainer.run()
    if model_out is not None:
        antialiased = settings.rasterize_mode == "antialiased"
        splats = splats_from_parameters(dict(trainer.params), settings.sh_degree or 0, antialiased=antialiased)
        write_model(model_out, splats, scene, result, settings, device.type)
    print(f"\n| step | held-out PSNR (dB) |\n|---:|---:|\n| 0 | {result.initial.psnr:.2f} |")
    for step, value in result.psnr_history:
        print(f"| {step} | {value:.2f} |")
    print(
        f"\n{settings.preset} preset at {settings.max_width} px: {result.steps} steps in {result.seconds:.0f} s "
        f"({result.steps / result.seconds:.2f} steps/s, stopped by {result.stop_reason}), "
        f"{result.gaussians} Gaussians, final PSNR {result.final.psnr:.2f} dB, SSIM {result.final.ssim:.3f}, "
        f"peak memory {result.peak_memory_mb:.0f} MB ({'GPU, allocated' if device.type == 'cuda' else 'RSS'})"
    )
    print(
        f"rasterize_mode {settings.rasterize_mode}, max_anisotropy {settings.max_anisotropy:g} "
        f"(weight {settings.anisotropy_weight:g}): anisotropy p99 {result.anisotropy_p99:.1f}, "
        f"mean colour error {result.final.colour_error:.2f} (8-bit steps, held out)"
    )
    print(
        "\n| settings | steps | seconds | Gaussians | held-out PSNR (dB) | held-out SSIM | anisotropy p99 |\n"
        f"|---|---:|---:|---:|---:|---:|---:|\n| {label} | {result.steps} | {result.seconds:.0f} | "
        f"{result.gaussians} | {result.final.psnr:.2f} | {result.final.ssim:.3f} | {result.anisotropy_p99:.1f} |"
    )


def setting_override(item: str) -> tuple[str, Any]:
    """``NAME=VALUE`` for a field of the training settings, the value typed as the preset's."""
    name, _, text = item.partition("=")
    current = getattr(PRESETS["preview"], name, None)
    if not text or current is None:
        raise SystemExit(f"--set {item}: expected NAME=VALUE naming a field the preview preset sets")
    if isinstance(current, bool):
        return name, text.lower() in ("1", "true", "yes")
    if isinstance(current, int):
        return name, int(text)
    if isinstance(current, float):
        return name, float(text)
    return name, text


def bench_settings(args: argparse.Namespace) -> Settings:
    """The preset, with a fixed budget when asked for one (then no early stop)."""
    settings = PRESETS[args.preset]
    if args.max_width:
        settings = dataclasses.replace(settings, max_width=args.max_width)
    overrides = {
        "rasterize_mode": args.rasterize_mode,
        "max_anisotropy": args.max_anisotropy,
        "anisotropy_weight": args.anisotropy_weight,
        "plateau_start_step": args.plateau_start_step,
    }
    settings = dataclasses.replace(settings, **{name: value for name, value in overrides.items() if value is not None})
    settings = dataclasses.replace(settings, **dict(setting_override(item) for item in args.set))
    if args.steps is not None or args.seconds is not None:
        settings = dataclasses.replace(
            settings,
            max_steps=args.steps or 10**9,
            max_minutes=(args.seconds or 10**9) / 60.0,
            plateau_min_gain_db=-1e9,
        )
    return settings.with_preset_defaults()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--counts", type=int, nargs="*", default=[20_000, 50_000], help="none: skip this table")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=0, help="CPU threads; 0: the training stage's default")
    parser.add_argument("--sfm", type=Path, help="an sfm channel folder (sparse/, images/)")
    parser.add_argument("--steps", type=int, help="train this many steps instead of the preset's budget")
    parser.add_argument("--seconds", type=float, help="train this long instead of the preset's budget")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="preview")
    parser.add_argument("--max-width", type=int, help="photo width instead of the preset's")
    parser.add_argument("--rasterize-mode", choices=["classic", "antialiased"], help="instead of the preset's")
    parser.add_argument("--max-anisotropy", type=float, help="instead of the preset's")
    parser.add_argument("--anisotropy-weight", type=float, help="instead of the preset's (0: no penalty)")
    parser.add_argument("--plateau-start-step", type=int, help="instead of the preset's")
    parser.add_argument("--set", nargs="*", default=[], metavar="NAME=VALUE", help="other settings to override")
    parser.add_argument("--model-out", type=Path, help="write the trained model folder here (splat.ply, previews)")
    parser.add_argument(
        "--seen-holdout",
        action="store_true",
        help="also train on the held-out views: what the preset reaches on views it has seen, "
        "a ceiling for any better start from the same photos",
    )
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    threads = use_cpu_threads(args.threads)
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"device: {device}, torch threads: {threads}, load average (1/5/15 min): {load}\n")
    if args.counts:
        print(f"| Gaussians | {WIDTH}x{HEIGHT} fwd+bwd steps/s |\n|---:|---:|")
    for count in args.counts:
        print(f"| {count} | {rasterizer_steps_per_second(count, device, args.repeats):.2f} |")
    if args.sfm:
        label = " ".join([args.preset, *args.set, *(["(held-out views seen)"] if args.seen_holdout else [])])
        with tempfile.TemporaryDirectory() as checkpoints:  # fresh, so nothing is resumed
            training_curve(
                args.sfm, bench_settings(args), device, Path(checkpoints), args.model_out, label, args.seen_holdout
            )


if __name__ == "__main__":
    main()
