"""Compression benchmark: our SOG encoder (as the stage runs it) beside splat-transform 3.7.0.

For each scene (``--ply`` files, e.g. trained scenes, and synthetic ones of ``--synthetic``
sizes) it runs each encoder in its own process and prints one table row each: size, ratio to
the ``.ply``, PSNR of the decoded bundle's render against the original's, encode time and
peak memory (the child's peak RSS). A ``.ply`` inside a training job's model folder (beside
``cameras.json`` and ``holdout/``) also gets the loss against the held-out photos: the
original's PSNR against them minus the decoded bundle's, at half their resolution, as the
stage's own check measures it. splat-transform runs with ``--gpu cpu`` (no usable WebGPU
adapter here) under ``--reference-timeout``.

    .venv/bin/python bench/compress.py --synthetic 100000 1000000
    .venv/bin/python bench/compress.py --ply MODEL/splat.ply --synthetic --prune-fractions 0 0.1
"""

from __future__ import annotations

import argparse
import itertools
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from splatflow.formats.cameras import Camera, camera_from_matrices, read_cameras
from splatflow.formats.ply import Splats, read_ply, write_ply
from splatflow.formats.sog import read_sog
from splatflow.render import render_splats
from splatflow.stages.compress.quality import check_quality, psnr

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.append(str(REPO_ROOT / "tests"))  # the synthetic scene the compression tests use too
from synthetic_scene import synthetic_scene  # noqa: E402

REFERENCE_CLI = REPO_ROOT / ".local" / "node" / "node_modules" / "@playcanvas" / "splat-transform" / "bin" / "cli.mjs"


@dataclass
class Row:
    scene: str
    encoder: str
    splats: int
    ply_mb: float
    sog_mb: float | None
    seconds: float | None
    peak_mb: float | None
    psnr_db: float | None
    photo_loss_db: float | None = None
    note: str = ""


def _high_water_mb(pid: int) -> float:
    """The process's peak RSS so far (VmHWM), 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def run_measured(command: list[str], env: dict[str, str], timeout: float) -> tuple[int | None, float, float]:
    """(exit status or None on timeout, wall seconds, peak RSS MB of the child).

    The peak is polled from /proc (VmHWM): the rusage of a waited child would also count the
    memory of this process at fork time, which Linux carries into the child's maxrss.
    """
    started = time.monotonic()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0.0
    while process.poll() is None:
        peak = max(peak, _high_water_mb(process.pid))
        if time.monotonic() - started > timeout:
            process.kill()
            process.wait()
            return None, time.monotonic() - started, peak
        time.sleep(0.1)
    return process.returncode, time.monotonic() - started, peak


def overview_cameras(splats: Splats, size: tuple[int, int] = (160, 120)) -> list[Camera]:
    """Two oblique views from above the scene's centre, framing its middle 90%."""
    lo, hi = np.percentile(splats.means, [5, 95], axis=0)
    centre, extent = (lo + hi) / 2, float(np.max(hi - lo))
    cameras = []
    for index, tilt in enumerate((0.0, 0.5)):
        eye = centre + np.array([0.0, tilt * extent, 1.2 * extent])
        forward = centre - eye
        forward /= np.linalg.norm(forward)
        right = np.cross(forward, [0.0, 1.0, 0.0])
        right /= np.linalg.norm(right)
        down = np.cross(forward, right)
        rotation = np.stack([right, down, forward])
        world_to_camera = np.eye(4)
        world_to_camera[:3, :3] = rotation
        world_to_camera[:3, 3] = -rotation @ eye
        f = size[0] * 0.9
        intrinsics = np.array([[f, 0.0, size[0] / 2], [0.0, f, size[1] / 2], [0.0, 0.0, 1.0]])
        cameras.append(camera_from_matrices(f"view_{index}", size[0], size[1], intrinsics, world_to_camera))
    return cameras


def render_psnr(original: Splats, sog: Path, cameras: list[Camera]) -> float:
    decoded = read_sog(sog)
    return float(np.mean([psnr(render_splats(decoded, c), render_splats(original, c)) for c in cameras]))


def photo_loss(original: Splats, sog: Path, model: Path) -> float | None:
    """dB lost against the held-out photos of the model folder ``model``, if it has them."""
    if not (model / "cameras.json").is_file() or not (model / "holdout").is_dir():
        return None
    check = check_quality(original, read_sog(sog), read_cameras(model / "cameras.json"), model / "holdout", 0.5)
    return check.psnr_loss_db


def judged_row(
    name: str,
    encoder: str,
    ply: Path,
    splats: Splats,
    sog: Path,
    run: tuple[int | None, float, float],
    cameras: list[Camera],
    failure: str,
) -> Row:
    """A table row: sizes and both quality measures when the encoder succeeded, its failure if not."""
    status, seconds, peak = run
    ok = status == 0
    return Row(
        name,
        encoder,
        splats.count,
        ply.stat().st_size / 1e6,
        sog.stat().st_size / 1e6 if ok else None,
        seconds,
        peak,
        render_psnr(splats, sog, cameras) if ok else None,
        photo_loss(splats, sog, ply.parent) if ok else None,
        "" if ok else failure,
    )


def bench_scene(name: str, ply: Path, work: Path, args: argparse.Namespace) -> list[Row]:
    splats = read_ply(ply)
    cameras = overview_cameras(splats)
    rows = []
    for order, fraction in itertools.product(args.orders, args.prune_fractions):
        root = work / f"{name}-{order}-{fraction}"
        (root / "processing" / "input").mkdir(parents=True)
        (root / "processing" / "input" / "splat.ply").symlink_to(ply)
        env = {**os.environ, "SPLATFLOW_ML_ROOT": str(root)}
        command = [sys.executable, "-m", "splatflow.stages.compress", "--texel-order", order]
        command += ["--prune-fraction", str(fraction)]
        run = run_measured(command, env, args.ours_timeout)
        encoder = f"splatflow ({order}{f', prune {fraction:g}' if fraction else ''})"
        sog = root / "processing" / "output" / "scene.sog"
        rows.append(judged_row(name, encoder, ply, splats, sog, run, cameras, f"exit {run[0]}"))
    reference = "splat-transform 3.7.0 (-g cpu)"
    if REFERENCE_CLI.is_file() and splats.count <= args.reference_max_splats:
        sog = work / f"{name}-reference.sog"
        command = ["node", str(REFERENCE_CLI), "-q", "-w", "-g", "cpu", str(ply), str(sog)]
        run = run_measured(command, dict(os.environ), args.reference_timeout)
        failure = "timed out" if run[0] is None else f"exit {run[0]}"
        rows.append(judged_row(name, reference, ply, splats, sog, run, cameras, failure))
    elif splats.count > args.reference_max_splats:
        note = f"not run: over --reference-max-splats {args.reference_max_splats}"
        rows.append(Row(name, reference, splats.count, ply.stat().st_size / 1e6, None, None, None, None, None, note))
    return rows


def print_table(rows: list[Row]) -> None:
    def fmt(value: float | None, spec: str) -> str:
        return "-" if value is None else format(value, spec)

    print(
        "| scene | encoder | splats | .ply MB | .sog MB | ratio | PSNR vs original dB | loss vs photos dB "
        "| encode s | peak MB | note |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        ratio = None if r.sog_mb is None else r.ply_mb / r.sog_mb
        print(
            f"| {r.scene} | {r.encoder} | {r.splats} | {r.ply_mb:.1f} | {fmt(r.sog_mb, '.2f')} | "
            f"{fmt(ratio, '.1f')} | {fmt(r.psnr_db, '.2f')} | {fmt(r.photo_loss_db, '.2f')} | "
            f"{fmt(r.seconds, '.1f')} | {fmt(r.peak_mb, '.0f')} | {r.note} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ply", type=Path, nargs="*", default=[], help="trained scenes to include")
    parser.add_argument("--synthetic", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--sh-degree", type=int, default=3)
    parser.add_argument("--orders", nargs="*", default=["morton", "sorted"])
    parser.add_argument("--prune-fractions", type=float, nargs="*", default=[0.0], help="a row for each")
    parser.add_argument("--reference-max-splats", type=int, default=200_000)
    parser.add_argument("--reference-timeout", type=float, default=600)
    parser.add_argument("--ours-timeout", type=float, default=600)
    args = parser.parse_args()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-compress-") as tmp:
        work = Path(tmp)
        scenes = [(p.stem, p) for p in args.ply]
        for count in args.synthetic:
            path = work / f"synthetic_{count}.ply"
            write_ply(synthetic_scene(count, sh_degree=args.sh_degree), path)
            scenes.append((f"synthetic {count // 1000}k", path))
        for name, path in scenes:
            rows += bench_scene(name, path, work, args)
            print(f"done: {name}", file=sys.stderr)
    print_table(rows)


if __name__ == "__main__":
    main()
