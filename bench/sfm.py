"""SfM benchmark: our stage beside the naive chain a user would write, on the shared photo sets.

The naive chain is what the old shell script did: pycolmap's defaults for extraction (one camera
per photo, no priors), exhaustive matching and incremental mapping. Our stage runs as the
Processing job does (``python -m splatflow.stages.sfm`` in a temporary ``/opt/ml``), so its time
includes unpacking, decoding, geo-registration, undistortion and the report. Both work at the
same ``--max-size`` (longest side of extraction; the photos are downscaled copies for the naive
chain, as our stage makes them for itself), so the comparison is about the pipeline, not the
resolution. One table row per dataset and pipeline, then the ratios.

    .venv/bin/python bench/sfm.py --max-size 1024
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pycolmap
from PIL import Image, ImageOps

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATASETS = REPO_ROOT.parent / "shared" / "datasets"


@dataclass
class Row:
    dataset: str
    pipeline: str
    photos: int
    seconds: float
    registered: int
    points: int
    reprojection_px: float
    note: str = ""


def run_stage(photos: list[Path], max_size: int, threads: int, work: Path) -> tuple[float, dict[str, object]]:
    root = work / "ml"
    input_dir = root / "processing" / "input"
    input_dir.mkdir(parents=True)
    with zipfile.ZipFile(input_dir / "photos.zip", "w") as archive:
        for photo in photos:
            archive.write(photo, photo.name)
    arguments = ["--image-max-size", str(max_size), "--extraction-max-size", str(max_size)]
    arguments += ["--num-threads", str(threads)]
    started = time.monotonic()
    completed = subprocess.run(
        [sys.executable, "-m", "splatflow.stages.sfm", *arguments],
        env={**os.environ, "SPLATFLOW_ML_ROOT": str(root)},
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.monotonic() - started
    if completed.returncode != 0:
        failure = (root / "output" / "failure").read_text(encoding="utf-8").strip()
        return seconds, {"failure": failure}
    report: dict[str, object] = json.loads((root / "processing" / "output" / "report.json").read_text())
    return seconds, report


def downscaled_copies(photos: list[Path], max_size: int, folder: Path) -> None:
    """What a user of the naive chain would feed it at this resolution (not timed)."""
    folder.mkdir(parents=True)
    for photo in photos:
        with Image.open(photo) as image:
            upright = ImageOps.exif_transpose(image)
            upright.thumbnail((max_size, max_size), Image.Resampling.LANCZOS)
            upright.save(folder / photo.name, quality=95, exif=image.getexif())


def run_naive(images: Path, threads: int, work: Path) -> tuple[float, pycolmap.Reconstruction | None]:
    database = work / "naive.db"
    extraction = pycolmap.FeatureExtractionOptions()
    extraction.num_threads = threads
    matching = pycolmap.FeatureMatchingOptions()
    matching.num_threads = threads
    mapping = pycolmap.IncrementalPipelineOptions()
    mapping.num_threads = threads
    started = time.monotonic()
    pycolmap.extract_features(database, images, extraction_options=extraction)
    pycolmap.match_exhaustive(database, matching)
    models = pycolmap.incremental_mapping(database, images, work / "naive", mapping)
    seconds = time.monotonic() - started
    largest = max(models.values(), key=lambda model: model.num_reg_images()) if models else None
    return seconds, largest


def stage_row(dataset: str, photos: list[Path], max_size: int, threads: int, work: Path) -> Row:
    seconds, report = run_stage(photos, max_size, threads, work)
    if "failure" in report:
        return Row(dataset, "splatflow stage", len(photos), seconds, 0, 0, float("nan"), str(report["failure"]))
    counts, mapping, matching = report["photos"], report["mapping"], report["matching"]
    assert isinstance(counts, dict) and isinstance(mapping, dict) and isinstance(matching, dict)
    return Row(
        dataset,
        "splatflow stage",
        len(photos),
        seconds,
        int(counts["registered"]),
        int(str(report["points"])),
        float(str(report["mean_reprojection_error_px"])),
        f"{matching['method']} matching, {mapping['mapper']} mapper",
    )


def naive_row(dataset: str, photos: list[Path], max_size: int, threads: int, work: Path) -> Row:
    downscaled_copies(photos, max_size, work / "images")
    (work / "naive").mkdir()
    seconds, model = run_naive(work / "images", threads, work)
    if model is None:
        return Row(dataset, "naive chain", len(photos), seconds, 0, 0, float("nan"), "no model")
    return Row(
        dataset,
        "naive chain",
        len(photos),
        seconds,
        model.num_reg_images(),
        model.num_points3D(),
        model.compute_mean_reprojection_error(),
        "exhaustive matching, incremental mapper",
    )


def bench_dataset(folder: Path, max_size: int, threads: int) -> list[Row]:
    photos = sorted(p for p in (folder / "images").iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        return [
            stage_row(folder.name, photos, max_size, threads, work / "stage"),
            naive_row(folder.name, photos, max_size, threads, work / "naive-chain"),
        ]


def print_table(rows: list[Row], max_size: int, threads: int) -> None:
    print(f"SfM at {max_size} px (longest side), {threads} threads, {os.cpu_count()} cores on this machine")
    print("stage time includes unzipping, decoding the full-size photos, undistortion and the report;")
    print("the naive chain gets downscaled copies made before its clock starts")
    header = f"{'dataset':<16}{'pipeline':<17}{'time s':>8}{'registered':>12}{'points':>8}{'reproj px':>10}  note"
    print(header)
    print("-" * len(header))
    for row in rows:
        registered = f"{row.registered}/{row.photos}"
        print(
            f"{row.dataset:<16}{row.pipeline:<17}{row.seconds:>8.1f}{registered:>12}{row.points:>8}"
            f"{row.reprojection_px:>10.3f}  {row.note}"
        )
    print()
    for dataset in dict.fromkeys(row.dataset for row in rows):
        ours, naive = (row for row in rows if row.dataset == dataset)
        print(
            f"{dataset}: naive/ours time {naive.seconds / ours.seconds:.2f}x, "
            f"registered {ours.registered} vs {naive.registered} of {ours.photos}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS)
    parser.add_argument("--names", nargs="+", default=["opensfm_lund", "brighton_beach"])
    parser.add_argument("--max-size", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    pycolmap.logging.minloglevel = int(pycolmap.logging.ERROR)
    rows = [row for name in args.names for row in bench_dataset(args.datasets / name, args.max_size, args.threads)]
    print_table(rows, args.max_size, args.threads)


if __name__ == "__main__":
    main()
