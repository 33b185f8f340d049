"""SfM benchmark: our stage beside the naive chain a user would write, on the shared photo sets.

The naive chain is what the old shell script did: pycolmap's defaults for extraction (one camera
per photo, no priors, 8,192 features), exhaustive matching and incremental mapping. Our stage runs
as the Processing job does (``python -m splatflow.stages.sfm`` in a temporary ``/opt/ml``), so its
time includes unpacking, decoding, geo-registration, undistortion and the report. Both extract
features at the same size (the longest side the stage extracted at, from its report; the naive
chain gets downscaled copies made before its clock starts), so the comparison is about the
pipeline, not the resolution.

Each pipeline runs in a child process of its own, timed from outside, with its peak resident
memory (``ru_maxrss`` from ``wait4``) and its per-step profile (the report's ``timings_s``; the
naive chain times its three calls). ``--photos`` runs the first N photos of each set in name order
(a shorter flight), so the seconds per photo show how each pipeline grows. The naive chain gets
``--naive-timeout`` seconds and is reported as timed out past that.

    .venv/bin/python bench/sfm.py --names seneca --photos 40 80 167 --naive-timeout 1800
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from splatflow.contract.outputs import SFM_REPORT
from splatflow.contract.paths import ML_ROOT_ENV, MlPaths

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATASETS = REPO_ROOT.parent / "shared" / "datasets"
PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png"}
FALLBACK_EXTRACTION_SIZE = 1024
"""The naive chain's extraction size when the stage failed before reporting its own."""


@dataclass
class Row:
    dataset: str
    pipeline: str
    photos: int
    seconds: float
    cpu_seconds: float
    peak_mib: float
    registered: int = 0
    points: int = 0
    reprojection_px: float = float("nan")
    steps: dict[str, float] = field(default_factory=dict)
    extraction_px: int | None = None
    note: str = ""


@dataclass
class ChildRun:
    """A child process's wall and CPU time, peak memory and exit; ``timed_out`` when it was killed.

    CPU time (user + system, all threads) moves far less than wall time when other work shares
    the machine, so it is the figure to compare runs made under different loads by.
    """

    seconds: float
    cpu_seconds: float
    peak_mib: float
    returncode: int
    timed_out: bool


def run_child(command: list[str], env: dict[str, str], log: Path, timeout_s: float | None) -> ChildRun:
    """Run ``command`` and measure it from outside; its own process group is killed at the timeout."""
    with log.open("w") as output:
        started = time.monotonic()
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            elapsed = time.monotonic() - started
            if pid:
                # Linux reports ru_maxrss in KiB.
                cpu = usage.ru_utime + usage.ru_stime
                return ChildRun(elapsed, cpu, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status), False)
            if timeout_s is not None and elapsed > timeout_s:
                os.killpg(process.pid, signal.SIGKILL)
                _, status, usage = os.wait4(process.pid, 0)
                cpu = usage.ru_utime + usage.ru_stime
                return ChildRun(time.monotonic() - started, cpu, usage.ru_maxrss / 1024, -signal.SIGKILL, True)
            time.sleep(0.2)


def stage_row(
    dataset: str, photos: list[Path], extraction_size: int | None, threads: int, extra: list[str], work: Path
) -> Row:
    paths = MlPaths(work / "ml")
    input_dir = paths.processing_input
    input_dir.mkdir(parents=True)
    with zipfile.ZipFile(input_dir / "photos.zip", "w") as archive:
        for photo in photos:
            archive.write(photo, photo.name)
    arguments = ["--num-threads", str(threads), *extra]
    if extraction_size is not None:
        arguments += ["--extraction-max-size", str(extraction_size)]
    command = [sys.executable, "-m", "splatflow.stages.sfm", *arguments]
    child = run_child(command, {**os.environ, ML_ROOT_ENV: str(paths.root)}, work / "stage.log", None)
    row = Row(dataset, "splatflow stage", len(photos), child.seconds, child.cpu_seconds, child.peak_mib)
    if child.returncode != 0:
        row.note = paths.message_file.read_text(encoding="utf-8").strip()
        return row
    report = json.loads((paths.processing_output / SFM_REPORT).read_text(encoding="utf-8"))
    removed = [item for item in report["skipped"] if "removed" in item["reason"]]
    geo = report["georegistration"]
    row.registered = report["photos"]["registered"]
    row.points = report["points"]
    row.reprojection_px = report["mean_reprojection_error_px"]
    row.steps = report["timings_s"]
    row.extraction_px = report["extraction"]["max_image_size"]
    row.note = (
        f"{row.extraction_px} px, {report['matching']['method']} matching "
        f"({report['matching']['matched_pairs']} pairs), {report['mapping']['mapper']} mapper, "
        f"{len(removed)} removed, GPS: {geo['reason']}, max residual {_metres(geo.get('max_residual_m'))}, "
        f"altitude fit's tilt {_degrees(geo.get('gps_altitude_tilt_deg'))}"
    )
    return row


def _metres(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} m"


def _degrees(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} deg"


def downscaled_copies(photos: list[Path], max_size: int, folder: Path) -> None:
    """What a user of the naive chain would feed it at this resolution (not timed)."""
    from PIL import Image, ImageOps

    folder.mkdir(parents=True)
    for photo in photos:
        with Image.open(photo) as image:
            upright = ImageOps.exif_transpose(image)
            upright.thumbnail((max_size, max_size), Image.Resampling.LANCZOS)
            upright.save(folder / photo.name, quality=95, exif=image.getexif())


def naive_chain(images: Path, work: Path, threads: int) -> None:
    """The naive chain itself, run in the child process; writes ``result.json`` when it ends."""
    import pycolmap

    pycolmap.logging.minloglevel = int(pycolmap.logging.ERROR)
    database = work / "naive.db"
    extraction = pycolmap.FeatureExtractionOptions()
    extraction.num_threads = threads
    matching = pycolmap.FeatureMatchingOptions()
    matching.num_threads = threads
    mapping = pycolmap.IncrementalPipelineOptions()
    mapping.num_threads = threads
    steps: dict[str, float] = {}
    started = time.monotonic()
    pycolmap.extract_features(database, images, extraction_options=extraction)
    steps["extract"], started = time.monotonic() - started, time.monotonic()
    pycolmap.match_exhaustive(database, matching)
    steps["match"], started = time.monotonic() - started, time.monotonic()
    (work / "naive").mkdir()
    models = pycolmap.incremental_mapping(database, images, work / "naive", mapping)
    steps["map"] = time.monotonic() - started
    largest = max(models.values(), key=lambda model: model.num_reg_images()) if models else None
    result = {"steps": steps, "registered": 0, "points": 0, "reprojection_px": float("nan")}
    if largest is not None:
        result |= {
            "registered": largest.num_reg_images(),
            "points": largest.num_points3D(),
            "reprojection_px": largest.compute_mean_reprojection_error(),
        }
    (work / "result.json").write_text(json.dumps(result), encoding="utf-8")


def naive_row(dataset: str, photos: list[Path], size: int, threads: int, work: Path, timeout_s: float) -> Row:
    downscaled_copies(photos, size, work / "images")
    command = [sys.executable, __file__, "--naive-worker", str(work), "--threads", str(threads)]
    child = run_child(command, dict(os.environ), work / "naive.log", timeout_s)
    row = Row(dataset, "naive chain", len(photos), child.seconds, child.cpu_seconds, child.peak_mib)
    if child.timed_out:
        row.note = f"timed out after {child.seconds:.0f} s ({_last_line(work / 'naive.log')})"
        return row
    if child.returncode != 0:
        row.note = f"failed after {child.seconds:.0f} s: {_last_line(work / 'naive.log')}"
        return row
    result = json.loads((work / "result.json").read_text(encoding="utf-8"))
    row.registered, row.points = result["registered"], result["points"]
    row.reprojection_px, row.steps = result["reprojection_px"], result["steps"]
    row.note = f"{size} px, exhaustive matching, incremental mapper" if row.registered else "no model"
    return row


def _last_line(log: Path) -> str:
    lines = [line for line in log.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    return lines[-1][:160] if lines else "no output"


def bench_dataset(folder: Path, counts: list[int | None], args: argparse.Namespace) -> list[Row]:
    photos = sorted(p for p in (folder / "images").iterdir() if p.suffix.lower() in PHOTO_SUFFIXES)
    rows: list[Row] = []
    for count in counts:
        subset = photos[:count] if count else photos
        with tempfile.TemporaryDirectory(prefix="bench-sfm-") as scratch:
            work = Path(scratch)
            size = args.extraction_size
            if "stage" in args.pipelines:
                (work / "stage").mkdir()
                extra = args.stage_arguments.split()
                ours = stage_row(folder.name, subset, args.extraction_size, args.threads, extra, work / "stage")
                rows.append(ours)
                size = size or ours.extraction_px
                print_row(ours, flush=True)
            if "naive" in args.pipelines:
                (work / "naive").mkdir()
                size = size or FALLBACK_EXTRACTION_SIZE
                naive = naive_row(folder.name, subset, size, args.threads, work / "naive", args.naive_timeout)
                rows.append(naive)
                print_row(naive, flush=True)
    return rows


HEADER = (
    f"{'dataset':<15}{'pipeline':<16}{'photos':>7}{'time s':>8}{'s/photo':>8}{'cpu s':>8}{'peak MiB':>9}"
    f"{'placed':>9}{'points':>8}{'reproj px':>10}  steps s / note"
)


def print_row(row: Row, flush: bool = False) -> None:
    placed = f"{row.registered}/{row.photos}"
    steps = " ".join(f"{name} {seconds:.0f}" for name, seconds in row.steps.items())
    print(
        f"{row.dataset:<15}{row.pipeline:<16}{row.photos:>7}{row.seconds:>8.1f}{row.seconds / row.photos:>8.2f}"
        f"{row.cpu_seconds:>8.0f}{row.peak_mib:>9.0f}{placed:>9}{row.points:>8}{row.reprojection_px:>10.3f}"
        f"  {steps} | {row.note}",
        flush=flush,
    )


def print_table(rows: list[Row], threads: int) -> None:
    print()
    print(f"{threads} threads, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end")
    print(HEADER)
    print("-" * len(HEADER))
    for row in rows:
        print_row(row)
    print()
    for dataset, photos in dict.fromkeys((row.dataset, row.photos) for row in rows):
        pair = [row for row in rows if (row.dataset, row.photos) == (dataset, photos)]
        if len(pair) != 2:
            continue
        ours, naive = pair
        timed_out = " (naive timed out: a lower bound)" if "timed out" in naive.note else ""
        print(
            f"{dataset} {photos} photos: naive/ours time {naive.seconds / ours.seconds:.2f}x, "
            f"CPU time {naive.cpu_seconds / ours.cpu_seconds:.2f}x{timed_out}, "
            f"placed {ours.registered} vs {naive.registered}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS)
    parser.add_argument("--names", nargs="+", default=["opensfm_lund", "brighton_beach"])
    parser.add_argument("--photos", nargs="+", type=int, default=[0], help="first N photos of each set; 0: all")
    parser.add_argument("--extraction-size", type=int, default=None, help="default: the stage's own choice")
    parser.add_argument("--stage-arguments", default="", help='more stage settings, e.g. "--matching footprint"')
    parser.add_argument("--pipelines", nargs="+", choices=["stage", "naive"], default=["stage", "naive"])
    parser.add_argument("--naive-timeout", type=float, default=1800.0)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--naive-worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.naive_worker:
        naive_chain(args.naive_worker / "images", args.naive_worker, args.threads)
        return
    print(HEADER, flush=True)
    counts = [count or None for count in args.photos]
    rows = [row for name in args.names for row in bench_dataset(args.datasets / name, counts, args)]
    print_table(rows, args.threads)


if __name__ == "__main__":
    main()
