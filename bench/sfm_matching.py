"""Matching benchmark: footprint matching against exhaustive matching on the same photos.

Each photo set runs through the SfM stage (``python -m splatflow.stages.sfm``, as ``bench/sfm.py``
runs it) twice, once with ``--matching exhaustive`` (every pair) and once with ``--matching
footprint`` (the pairs whose ground footprints overlap: by what each view sees on the ground where
the photos' XMP gives the gimbal's pitch and heading, else nadir footprints), at the same
extraction size and feature count, so that only the choice of pairs differs. The table gives the
photos placed, the pairs matched and verified, how many photos were paired by their views'
footprints and how many by GPS nearness, and the matching and total times.

    .venv/bin/python bench/sfm_matching.py --datasets /work/datasets-extra --names caliterra \\
        --stage-arguments "--image-max-size 1024 --max-num-features 4096"
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

from sfm import DEFAULT_DATASETS, PHOTO_SUFFIXES, Row, stage_row

from splatflow.contract.outputs import SFM_REPORT
from splatflow.contract.paths import MlPaths

METHODS = ("exhaustive", "footprint")
HEADER = (
    f"{'dataset':<16}{'matching':<12}{'photos':>7}{'placed':>8}{'pairs':>7}{'verified':>9}"
    f"{'by view':>8}{'by GPS':>7}{'match s':>9}{'time s':>8}{'cpu s':>7}  note"
)


def run_method(folder: Path, photos: list[Path], method: str, extra: list[str], threads: int) -> tuple[Row, dict]:
    """The stage on ``photos`` with one matching method; its row and its report's matching block."""
    with tempfile.TemporaryDirectory(prefix="bench-matching-") as scratch:
        work = Path(scratch)
        row = stage_row(folder.name, photos, None, threads, ["--matching", method, *extra], work)
        report_path = MlPaths(work / "ml").processing_output / SFM_REPORT
        matching = json.loads(report_path.read_text(encoding="utf-8"))["matching"] if report_path.is_file() else {}
    return row, matching


def print_row(method: str, row: Row, matching: dict) -> None:
    def count(key: str) -> str:
        value = matching.get(key)
        return "-" if value is None else str(value)

    print(
        f"{row.dataset:<16}{method:<12}{row.photos:>7}{row.registered:>8}{count('matched_pairs'):>7}"
        f"{count('verified_pairs'):>9}{count('photos_by_view'):>8}{count('photos_by_gps'):>7}"
        f"{row.steps.get('match', float('nan')):>9.1f}{row.seconds:>8.1f}{row.cpu_seconds:>7.0f}  "
        f"height {count('height_above_ground_m')} m, nadir reach {count('footprint_reach_m')} m"
        + (f" | {row.note}" if row.registered == 0 else ""),
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS)
    parser.add_argument("--names", nargs="+", required=True)
    parser.add_argument("--photos", type=int, default=0, help="first N photos of each set; 0: all")
    parser.add_argument("--stage-arguments", default="", help="settings both runs share, e.g. the image size")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    print(HEADER, flush=True)
    for name in args.names:
        folder = args.datasets / name
        photos = sorted(p for p in (folder / "images").iterdir() if p.suffix.lower() in PHOTO_SUFFIXES)
        photos = photos[: args.photos] if args.photos else photos
        for method in METHODS:
            row, matching = run_method(folder, photos, method, args.stage_arguments.split(), args.threads)
            print_row(method, row, matching)
    print(f"\n{args.threads} threads, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
