"""Where the preview stands: per capture, the preview camera's distance to the nearest photo
against the survey's radius (the median distance of the photos from their middle), its angle to
the nearest photo's direction and from straight down, and the preview's path.

Each ``--sfm`` folder is an SfM stage output (``sparse/``, ``images/``); its cameras are split
as the training stage splits them and only the held-out ones (what travels with a model) place
the views, as in the compression stage; the figures are measured against *all* the photos. The
splats are the SfM points drawn as round splats (no training needed), the sky and horizon
points SfM found included. ``--model`` folders (a training job's model: ``splat.ply``,
``cameras.json``) are measured against their held-out cameras, or given as ``MODEL:SFM``
against all the photos of that SfM output. ``--synthetic`` adds the
synthetic nadir grid, orbit and street of the tests (``tests/synthetic_captures.py``).

    .venv/bin/python bench/views.py --sfm OUT/lund OUT/sample --synthetic --out /tmp/previews
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from splatflow.formats.cameras import Camera, read_cameras, read_up, write_cameras
from splatflow.formats.ply import Splats, read_ply
from splatflow.render import render_splats, to_8_bit
from splatflow.render.overview import scene_up
from splatflow.stages.compress.stills import site_views
from splatflow.stages.train.dataset import load_scene

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.append(str(REPO_ROOT / "tests"))  # the synthetic captures the stills tests use too
from synthetic_captures import CAPTURES, envelope_figures, in_frame, scene_with_background  # noqa: E402

SH_C0 = 0.28209479177387814
HOLDOUT_EVERY = 8
"""The training stage's default split (``train_settings.holdout_every``)."""


def point_splats(points: np.ndarray, colours: np.ndarray) -> Splats:
    """SfM points as opaque round splats a quarter of the gap to their nearest neighbour wide
    (a sparse cloud drawn as dots: where the view looks, not what a trained model shows)."""
    cloud = torch.from_numpy(points)
    gaps = torch.cat([torch.cdist(chunk, cloud).topk(2, largest=False).values[:, 1] for chunk in cloud.split(2048)])
    scale = np.log(np.clip(0.25 * gaps.numpy(), 1e-3, None))[:, None].repeat(3, axis=1)
    count = len(points)
    return Splats(
        means=points.astype(np.float32),
        scales=scale.astype(np.float32),
        quats=np.tile(np.array([1, 0, 0, 0], np.float32), (count, 1)),
        opacities=np.full(count, 4.0, np.float32),
        sh_dc=((colours - 0.5) / SH_C0).astype(np.float32),
        sh_rest=np.zeros((count, 0, 3), np.float32),
    )


def measure(name: str, splats: Splats, held_out: list[Camera], photos: list[Camera], up: np.ndarray, out: Path) -> str:
    with tempfile.TemporaryDirectory() as folder:
        write_cameras(held_out, Path(folder) / "cameras.json", up=up)
        views = site_views(splats, Path(folder) / "cameras.json")
    if views is None:
        return f"| {name} | {len(photos)} | {len(held_out)} | no views | | | | | |"
    figures = envelope_figures(views.preview.camera, photos, up)
    framed = 100.0 * in_frame(views.preview.camera, splats.means.astype(np.float64)).mean()
    path = out / f"{name}.png"
    Image.fromarray(to_8_bit(render_splats(splats, views.preview.camera))).save(path)
    return (
        f"| {name} | {len(photos)} | {len(held_out)} | {figures['nearest_photo_m']:.1f} | "
        f"{figures['survey_radius_m']:.1f} | {figures['angle_to_photo_deg']:.1f} | "
        f"{figures['from_straight_down_deg']:.1f} | {framed:.0f} | {path} |"
    )


def sfm_row(folder: Path, out: Path) -> str:
    scene = load_scene(folder, HOLDOUT_EVERY, 480)
    photos = [view.camera for view in scene.training + scene.holdout]
    up = scene_up(photos, scene.points, scene.georegistered)
    splats = point_splats(scene.points.astype(np.float64), scene.point_colors)
    return measure(folder.name, splats, [view.camera for view in scene.holdout], photos, up, out)


def model_row(spec: str, out: Path) -> str:
    """``MODEL`` or ``MODEL:SFM``: with the SfM output, measured against all its photos."""
    model, _, sfm = spec.partition(":")
    folder = Path(model)
    held_out = read_cameras(folder / "cameras.json")
    splats = read_ply(folder / "splat.ply")
    up = read_up(folder / "cameras.json")
    if up is None:
        up = scene_up(held_out, splats.means, georegistered=False)
    photos = held_out
    if sfm:
        scene = load_scene(Path(sfm), HOLDOUT_EVERY, 480)
        photos = [view.camera for view in scene.training + scene.holdout]
    return measure(f"{folder.parent.name}-trained", splats, held_out, photos, up, out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sfm", type=Path, nargs="*", default=[], help="SfM stage output folders")
    parser.add_argument("--model", nargs="*", default=[], help="training model folders, MODEL or MODEL:SFM")
    parser.add_argument("--synthetic", action="store_true", help="add the synthetic captures")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "splatflow-views")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    print("| capture | photos | placing views | nearest photo (m) | survey radius (m) |", end="")
    print(" angle to a photo (deg) | from straight down (deg) | splats in frame % | preview |")
    print("|---|---|---|---|---|---|---|---|---|")
    for folder in args.sfm:
        print(sfm_row(folder, args.out), flush=True)
    for folder in args.model:
        print(model_row(folder, args.out), flush=True)
    if args.synthetic:
        splats, _ = scene_with_background()
        for name, capture in CAPTURES.items():
            photos = capture()
            print(
                measure(f"synthetic {name}".replace(" ", "_"), splats, photos, photos, np.array([0, 0, 1.0]), args.out)
            )


if __name__ == "__main__":
    main()
