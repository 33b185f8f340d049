"""Compression benchmark: our SOG encoder (as the stage runs it) beside splat-transform 3.7.0.

For each scene (``--ply`` files, e.g. trained scenes, and synthetic ones of ``--synthetic``
sizes) it runs each encoder in its own process and prints one table row each: size, ratio to
the ``.ply``, PSNR of the decoded bundle's render against the original's, encode time and
peak memory (the child's peak RSS). splat-transform runs with ``--gpu cpu`` (no usable WebGPU
adapter here) under ``--reference-timeout``.

    .venv/bin/python bench/compress.py --synthetic 100000 1000000
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from splatflow.formats.cameras import Camera, camera_from_matrices
from splatflow.formats.ply import Splats, read_ply, write_ply
from splatflow.formats.sog import read_sog
from splatflow.render import render_splats
from splatflow.stages.compress.quality import psnr
from splatflow.stages.compress.synthetic import synthetic_scene

REPO_ROOT = Path(__file__).resolve().parent.parent
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


def bench_scene(name: str, ply: Path, work: Path, args: argparse.Namespace) -> list[Row]:
    splats = read_ply(ply)
    cameras = overview_cameras(splats)
    ply_mb = ply.stat().st_size / 1e6
    rows = []
    for order in args.orders:
        root = work / f"{name}-{order}"
        (root / "processing" / "input").mkdir(parents=True)
        (root / "processing" / "input" / "splat.ply").symlink_to(ply)
        env = {**os.environ, "SPLATFLOW_ML_ROOT": str(root)}
        command = [sys.executable, "-m", "splatflow.stages.compress", "--texel-order", order]
        status, seconds, peak = run_measured(command, env, args.ours_timeout)
        sog = root / "processing" / "output" / "scene.sog"
        ok = status == 0
        rows.append(
            Row(
                name,
                f"splatflow ({order})",
                splats.count,
                ply_mb,
                sog.stat().st_size / 1e6 if ok else None,
                seconds,
                peak,
                render_psnr(splats, sog, cameras) if ok else None,
                "" if ok else f"exit {status}",
            )
        )
    if REFERENCE_CLI.is_file() and splats.count <= args.reference_max_splats:
        sog = work / f"{name}-reference.sog"
        command = ["node", str(REFERENCE_CLI), "-q", "-w", "-g", "cpu", str(ply), str(sog)]
        status, seconds, peak = run_measured(command, dict(os.environ), args.reference_timeout)
        ok = status == 0
        rows.append(
            Row(
                name,
                "splat-transform 3.7.0 (-g cpu)",
                splats.count,
                ply_mb,
                sog.stat().st_size / 1e6 if ok else None,
                seconds,
                peak,
                render_psnr(splats, sog, cameras) if ok else None,
                "" if ok else ("timed out" if status is None else f"exit {status}"),
            )
        )
    elif splats.count > args.reference_max_splats:
        rows.append(
            Row(
                name,
                "splat-transform 3.7.0 (-g cpu)",
                splats.count,
                ply_mb,
                None,
                None,
                None,
                None,
                f"not run: over --reference-max-splats {args.reference_max_splats}",
            )
        )
    return rows


def print_table(rows: list[Row]) -> None:
    def fmt(value: float | None, spec: str) -> str:
        return "-" if value is None else format(value, spec)

    print("| scene | encoder | splats | .ply MB | .sog MB | ratio | PSNR vs original dB | encode s | peak MB | note |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        ratio = None if r.sog_mb is None else r.ply_mb / r.sog_mb
        print(
            f"| {r.scene} | {r.encoder} | {r.splats} | {r.ply_mb:.1f} | {fmt(r.sog_mb, '.2f')} | "
            f"{fmt(ratio, '.1f')} | {fmt(r.psnr_db, '.2f')} | {fmt(r.seconds, '.1f')} | "
            f"{fmt(r.peak_mb, '.0f')} | {r.note} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ply", type=Path, nargs="*", default=[], help="trained scenes to include")
    parser.add_argument("--synthetic", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--sh-degree", type=int, default=3)
    parser.add_argument("--orders", nargs="*", default=["morton", "sorted"])
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
