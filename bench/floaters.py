"""Floater removal on a trained model: how many splats go, what the held-out views say, what it costs.

    .venv/bin/python bench/floaters.py --model MODEL [--thresholds 0 1 4 16] [--stills DIR]

``MODEL`` is a training job's model folder (``splat.ply``, ``photo_cameras.json``,
``cameras.json``, ``holdout/``; ``bench/train.py --model-out`` writes one). For each
``floater_min_pixels`` it prints the splats removed and the mean held-out PSNR against the photos
before and after, at the photos' training resolution and at the stage's check scale (0.5), and the
time to find them (every photo rendered once at ``--scale``, on the CPU), for the stage's rule and
for the same threshold on the weights alone (every pixel counted, in front of the surface or not).
``--stills DIR`` writes the stage's preview of the model before and after the default removal
(both from the view framed on the whole model, so they differ only by what went) and a render of
the removed splats alone from there, on white.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
from PIL import Image

from splatflow.contract.compress_settings import Settings
from splatflow.formats.cameras import read_cameras
from splatflow.formats.ply import Splats, read_ply
from splatflow.render import render_splats, to_8_bit
from splatflow.render.threads import use_cpu_threads
from splatflow.stages.compress.encoder import reordered
from splatflow.stages.compress.floaters import NEARER_THAN_SURFACE, surface_shares
from splatflow.stages.compress.quality import holdout_psnr, psnr
from splatflow.stages.compress.stills import site_views

DEFAULTS = Settings()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.0, 1.0, 4.0, 16.0])
    parser.add_argument("--scale", type=float, default=DEFAULTS.floater_image_scale)
    parser.add_argument("--stills", type=Path)
    args = parser.parse_args()
    use_cpu_threads(0)
    splats = read_ply(args.model / "splat.ply")
    photos = read_cameras(args.model / "photo_cameras.json")
    held_out = read_cameras(args.model / "cameras.json")
    holdout = args.model / "holdout"
    print(
        f"{args.model}: {splats.count} splats, {len(photos)} photos ({len(held_out)} held out), "
        f"load {os.getloadavg()[0]:.1f}"
    )
    before = {scale: holdout_psnr(splats, held_out, holdout, scale) for scale in (1.0, 0.5)}
    print()
    print(
        "| rule | floater_min_pixels | removed | held-out PSNR (dB) before → after, full res "
        "| same, at 0.5 | find (s) |"
    )
    print("|---|---:|---:|---|---|---:|")
    kept_by_default = splats
    for rule, ratio in (("surface only (the stage's)", NEARER_THAN_SURFACE), ("weights anywhere", 0.0)):
        started = time.monotonic()
        shares = surface_shares(splats, photos, args.scale, ratio)
        seconds = time.monotonic() - started
        for threshold in args.thresholds:
            kept = reordered(splats, np.flatnonzero(shares >= threshold))
            after = {scale: holdout_psnr(kept, held_out, holdout, scale) for scale in (1.0, 0.5)}
            figures = " | ".join(f"{before[s]:.3f} → {after[s]:.3f}" for s in (1.0, 0.5))
            print(f"| {rule} | {threshold:g} | {splats.count - kept.count:,} | {figures} | {seconds:.1f} |")
            if ratio == NEARER_THAN_SURFACE and threshold == DEFAULTS.floater_min_pixels:
                kept_by_default = kept
    if args.stills is not None:
        write_stills(splats, kept_by_default, args.model / "cameras.json", args.stills)


def write_stills(splats: Splats, kept: Splats, cameras_file: Path, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    views = site_views(splats, cameras_file)
    assert views is not None
    camera = views.preview.camera
    removed_ids = np.setdiff1d(np.arange(splats.count), _kept_ids(splats, kept))
    pictures = {
        "preview-before.png": render_splats(splats, camera),
        "preview-after.png": render_splats(kept, camera),
        "removed-only.png": render_splats(reordered(splats, removed_ids), camera, background=(1.0, 1.0, 1.0)),
    }
    for name, image in pictures.items():
        Image.fromarray(to_8_bit(image)).save(folder / name)
    change = np.abs(pictures["preview-after.png"] - pictures["preview-before.png"])
    print(f"\nstills in {folder}: {', '.join(pictures)} ({camera.width}x{camera.height})")
    print(
        f"preview after against before: {psnr(pictures['preview-after.png'], pictures['preview-before.png']):.1f} dB, "
        f"{(change.max(axis=2) > 2 / 255).mean():.2%} of the pixels move by more than 2 steps of 255"
    )


def _kept_ids(splats: Splats, kept: Splats) -> np.ndarray:
    index = {row: i for i, row in enumerate(map(tuple, splats.means.tolist()))}
    return np.array([index[row] for row in map(tuple, kept.means.tolist())], dtype=int)


if __name__ == "__main__":
    main()
