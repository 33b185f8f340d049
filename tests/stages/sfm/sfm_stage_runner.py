"""SfM stage test helpers: ZIP builders and a runner of ``python -m splatflow.stages.sfm``.

A uniquely named module rather than ``conftest`` so test files can import it unambiguously.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

STAGE_TIMEOUT_S = 300
TEST_THREADS = "2"


@dataclass(frozen=True)
class StageRun:
    """One run of the stage in its own ``/opt/ml`` folder."""

    returncode: int
    log: str
    ml_root: Path

    @property
    def output(self) -> Path:
        return self.ml_root / "processing" / "output"

    @property
    def failure(self) -> str | None:
        path = self.ml_root / "output" / "failure"
        return path.read_text(encoding="utf-8").strip() if path.exists() else None

    def report(self) -> dict[str, Any]:
        return json.loads((self.output / "report.json").read_text(encoding="utf-8"))


def run_sfm_stage(ml_root: Path, zip_bytes: bytes | None, *arguments: str) -> StageRun:
    """Run the stage as a Processing job would, with the ZIP at ``processing/input/data``."""
    input_dir = ml_root / "processing" / "input" / "data"
    input_dir.mkdir(parents=True, exist_ok=True)
    if zip_bytes is not None:
        (input_dir / "photos.zip").write_bytes(zip_bytes)
    completed = subprocess.run(
        [sys.executable, "-m", "splatflow.stages.sfm", "--num-threads", TEST_THREADS, *arguments],
        env={**os.environ, "SPLATFLOW_ML_ROOT": str(ml_root)},
        capture_output=True,
        text=True,
        timeout=STAGE_TIMEOUT_S,
        check=False,
    )
    return StageRun(completed.returncode, completed.stdout + completed.stderr, ml_root)


def zip_of(members: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data, compress_type=compression)
    return buffer.getvalue()


def zip_of_folder(folder: Path, prefix: str) -> dict[str, bytes]:
    """Every file of ``folder`` as ZIP members under ``prefix/``."""
    return {f"{prefix}/{path.name}": path.read_bytes() for path in sorted(folder.iterdir())}


def noise_jpeg(seed: int, size: tuple[int, int] = (320, 240)) -> bytes:
    """A textured photo that shares no features with any other (a different seed each)."""
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()
