"""The training stage's memory model: what the photos and the Gaussians cost on a T4.

    python bench/train_memory.py                       # the model for 100 to 1000 photos
    python bench/train_memory.py --photos PATH --count 4  # also measure photos as the stage loads them

The photos are the part that grows with the job. Before, every training photo was kept on the
GPU as float32 at each resolution level the schedule had used (full, half, quarter for the
standard preset); now they stay in host memory as 8-bit pixels and one at a time goes to the GPU
(``splatflow.stages.train.views``). The Gaussians cost the same either way: 59 float32 values
each (position 3, scale 3, rotation 4, opacity 1, SH-3 colour 48), held four times (the value,
its gradient, Adam's two moments), plus the densification statistics. What a step's rasterizer
needs on top grows with the image and the Gaussians in view; bench/gpu_check.sh measures it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from splatflow.contract.train_settings import STANDARD
from splatflow.formats.cameras import camera_from_matrices
from splatflow.stages.train.dataset import load_view
from splatflow.stages.train.views import photo_bytes, view_tensors

GIB = 2**30
T4_MEMORY = 16 * GIB
GAUSSIAN_VALUES = 3 + 3 + 4 + 1 + 48
GAUSSIAN_BYTES = GAUSSIAN_VALUES * 4 * 4 + 2 * 4
"""Value, gradient and two Adam moments in float32, and two float32 densification statistics."""


def model_table(width: int, height: int, counts: list[int], gaussians: int) -> None:
    levels = (STANDARD.coarse_levels or 0) + 1
    before_gpu = photo_bytes(width, height, levels, 4)
    after_gpu = photo_bytes(width, height, 1, 4) + photo_bytes(width, height, 1, 1)
    host_before, host_after = photo_bytes(width, height, 1, 4), photo_bytes(width, height, 1, 1)
    gaussian_memory = gaussians * GAUSSIAN_BYTES
    print(
        f"\n{width}x{height} photos, standard preset ({levels} resolution levels), {gaussians:,} Gaussians "
        f"({gaussian_memory / GIB:.2f} GiB on the GPU either way)\n"
    )
    print(
        "| photos | GPU photos before | GPU photos now | GPU before + Gaussians (of a T4) "
        "| GPU now + Gaussians (of a T4) | host photos before | host photos now |\n|---:|---:|---:|---:|---:|---:|---:|"
    )
    for count in counts:
        total_before = count * before_gpu + gaussian_memory
        total_now = after_gpu + gaussian_memory
        print(
            f"| {count} | {count * before_gpu / GIB:.2f} GiB | {after_gpu / 2**20:.0f} MiB "
            f"| {total_before / GIB:.2f} GiB ({100 * total_before / T4_MEMORY:.0f} %) "
            f"| {total_now / GIB:.2f} GiB ({100 * total_now / T4_MEMORY:.0f} %) "
            f"| {count * host_before / GIB:.2f} GiB | {count * host_after / GIB:.2f} GiB |"
        )


def measure(folder: Path, count: int, max_width: int) -> None:
    """Load photos as the stage does and report their bytes in host memory and in a step."""
    print(f"\nmeasured on {count} photos of {folder} at {max_width} px:\n")
    print("| photo | size | host bytes | device bytes in a step |\n|---|---|---:|---:|")
    for path in sorted(folder.glob("*.[jJ][pP]*[gG]"))[:count]:
        with Image.open(path) as image:
            width, height = image.size
        intrinsics = [[width, 0.0, width / 2], [0.0, width, height / 2], [0.0, 0.0, 1.0]]
        camera = camera_from_matrices(path.name, width, height, intrinsics, np.eye(4))
        view = load_view(folder, camera, max_width)
        tensors = view_tensors(view.camera, view.photo, 1.0, torch.device("cpu"))
        step_bytes = tensors.photo.element_size() * tensors.photo.nelement() + view.photo.nbytes
        print(f"| {path.name} | {view.camera.width}x{view.camera.height} | {view.photo.nbytes:,} | {step_bytes:,} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--counts", type=int, nargs="+", default=[100, 300, 500, 1000])
    parser.add_argument("--gaussians", type=int, default=STANDARD.max_gaussians or 0)
    parser.add_argument("--photos", type=Path, help="a folder of photos to load as the stage does")
    parser.add_argument("--count", type=int, default=4)
    args = parser.parse_args()
    width = STANDARD.max_width or 1600
    for height in (1200, 900):  # 4:3 (seneca), 16:9 (brighton_beach)
        model_table(width, height, args.counts, args.gaussians)
    if args.photos:
        measure(args.photos, args.count, width)


if __name__ == "__main__":
    main()
