"""What one run keeps in S3: the bytes under ``runs/<run key>/`` after a run on the bundled sample.

Runs ``splat_pipeline`` once through the embedded runtime with the demo's settings (as
``bench/pipeline.py`` does) and sums the objects the run left, by what they are: the SfM output,
the training job's model (its ``.ply``, the held-out photos, the rest), the checkpoints, the
compression output (its ``.ply`` copy, the rest) and the run's own records. Each artefact should
be stored once. Usage: ``python bench/storage.py``.
"""

from __future__ import annotations

import re
import tempfile
from collections import defaultdict
from pathlib import Path

from splatflow.local.demo import run_sample
from splatflow.local.runtime import RuntimeSettings

PARTS = [
    ("sfm output", r"(c\d+/)?sfm/"),
    ("train: .ply", r"(c\d+/)?train/.*(splat\.ply|model\.tar\.gz)$"),
    ("train: held-out photos", r"(c\d+/)?train/.*/holdout/"),
    ("train: the rest", r"(c\d+/)?train/"),
    ("checkpoints", r"(c\d+/)?checkpoints/"),
    ("compress: .ply copy", r"(c\d+/)?compress/splat\.ply$"),
    ("compress: the rest", r"(c\d+/)?compress/"),
    ("manifest, records", r""),
]
"""(part, pattern of its keys below the run's prefix), first match wins. With ``CompressionType:
GZIP`` the model is one ``model.tar.gz``, counted as the ``.ply`` row (it holds the photos too)."""


def part_of(key: str) -> str:
    return next(name for name, pattern in PARTS if re.match(pattern, key))


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-storage-") as folder:
        state = Path(folder)
        sample = run_sample(RuntimeSettings(state_dir=state), state / "out")
    if sample.state != "success":
        raise SystemExit(f"the run did not succeed ({sample.state}); nothing to measure")
    totals: dict[str, int] = defaultdict(int)
    counts: dict[str, int] = defaultdict(int)
    for key, size in sample.stored_bytes.items():
        totals[part_of(key)] += size
        counts[part_of(key)] += 1
    print(f"{'part':<24}{'objects':>8}{'bytes':>14}")
    for name, _ in PARTS:
        print(f"{name:<24}{counts[name]:>8}{totals[name]:>14,}")
    print(f"{'run in all':<24}{sum(counts.values()):>8}{sum(totals.values()):>14,}")


if __name__ == "__main__":
    main()
