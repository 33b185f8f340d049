"""A trained model's figures against its held-out photos: what a run's preview cannot show in numbers.

    python bench/model_figures.py --sfm SFM_OUTPUT MODEL.ply [MODEL.ply ...]

For each ``.ply`` (a run's ``splat.ply``, e.g. ``make demo``'s ``.local/demo/splat.ply``) it renders
the held-out views the training stage picks from the SfM output (``sparse/``, ``images/``; every
8th photo, at the preview preset's 320 px) and prints one Markdown row: held-out PSNR, mean colour
error (largest per-channel difference of mean colours, render against photo, in 8-bit steps,
averaged over the views) on the held-out views and on the training views, the held-out shift per
channel, and the needle measure (99th percentile of each Gaussian's largest / smallest axis). The
held-out colour error includes what the model gets wrong where it has no geometry; the training
views' is the colour path alone. The PSNR is the training stage's own figure, so a row can be
checked against the run's manifest.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from splatflow.formats.ply import Splats, read_ply
from splatflow.render import render_splats
from splatflow.stages.train.dataset import View, load_scene
from splatflow.stages.train.metrics import anisotropy_percentile, mean_colour_error, psnr

HOLDOUT_EVERY = 8
WIDTH = 320


def figures(splats: Splats, view: View) -> tuple[float, float, np.ndarray]:
    """PSNR, mean colour error and the per-channel mean shift (8-bit steps) of one view."""
    render = torch.from_numpy(render_splats(splats, view.camera))
    photo = torch.from_numpy(view.photo.astype(np.float32) / 255.0)
    shift = (render.reshape(-1, 3).mean(0) - photo.reshape(-1, 3).mean(0)).numpy() * 255
    return psnr(render, photo), mean_colour_error(render, photo), shift


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sfm", type=Path, required=True, help="the SfM output the models were trained on")
    parser.add_argument("--width", type=int, default=WIDTH, help="training width of the models")
    parser.add_argument("models", type=Path, nargs="+")
    args = parser.parse_args()
    scene = load_scene(args.sfm, HOLDOUT_EVERY, args.width)
    print(
        "| model | Gaussians | held-out PSNR (dB) | colour error, held out | held-out shift R, G, B "
        "| colour error, training views | anisotropy p99 |"
    )
    print("|---|---:|---:|---:|---|---:|---:|")
    for path in args.models:
        splats = read_ply(path)
        held_out = [figures(splats, view) for view in scene.holdout]
        trained_on = [figures(splats, view) for view in scene.training]
        shift = ", ".join(f"{value:+.1f}" for value in np.mean([row[2] for row in held_out], axis=0))
        needles = anisotropy_percentile(torch.from_numpy(splats.scales))
        print(
            f"| {path} | {splats.count} | {np.mean([row[0] for row in held_out]):.2f} "
            f"| {np.mean([row[1] for row in held_out]):.2f} | {shift} "
            f"| {np.mean([row[1] for row in trained_on]):.2f} | {needles:.1f} |"
        )


if __name__ == "__main__":
    main()
