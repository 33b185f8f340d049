"""Stage image build times: cold, warm with nothing changed, and warm after a code edit.

Builds each stage image from a copy of the repository's tracked files (so the edit touches no
working tree): first with no layer cache (the base images present), then again unchanged, then
after appending a comment to one module of the package, which is what a developer's rebuild
usually is. Prints one row per image; the stand-in base's own build time is printed first when
the base had to be built. Run it on an idle machine; a shared one stretches every figure.

    .venv/bin/python bench/images.py
    .venv/bin/python bench/images.py --only sfm
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from splatflow.local.containers.base_images import base_images
from splatflow.local.containers.engine import container_engine
from splatflow.local.containers.images import (
    STAGE_REPOSITORIES,
    Builder,
    StageImage,
    build_image,
    ensure_base_image,
    stage_images,
)
from splatflow.pipeline.settings import PipelineSettings

REPO_ROOT = Path(__file__).resolve().parent.parent
EDITED_MODULE = Path("include/splatflow/formats/ply.py")
BENCH_REGISTRY = "localhost/splatflow-bench"
"""The benchmark's own image names, so it never replaces the images the runner uses."""


def _copy_tracked_files(target: Path) -> None:
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, check=True).stdout
    for name in filter(None, files.decode().split("\0")):
        source = REPO_ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def _in_context(image: StageImage, context: Path) -> StageImage:
    dockerfile = context / image.dockerfile.relative_to(REPO_ROOT)
    return StageImage(image.repository, image.reference, dockerfile, image.build_args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=STAGE_REPOSITORIES, default=list(STAGE_REPOSITORIES))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-images-") as folder, container_engine(Path(folder)) as engine:
        context = Path(folder) / "context"
        _copy_tracked_files(context)
        builder = Builder.for_engine(engine)
        names = PipelineSettings(image_registry=BENCH_REGISTRY)
        wanted = tuple(args.only)
        images = [_in_context(image, context) for image in stage_images(REPO_ROOT, names, repositories=wanted)]
        for image in images:
            for base in base_images(image.dockerfile.read_text(encoding="utf-8"), image.build_args):
                started = time.monotonic()
                how = ensure_base_image(builder, base)
                print(f"base {base}: {how} ({time.monotonic() - started:.0f} s)")
        rows = []
        for image in images:
            cold = build_image(builder, image, context, use_cache=False)
            unchanged = build_image(builder, image, context)
            with (context / EDITED_MODULE).open("a", encoding="utf-8") as module:
                module.write(f"# edited for the benchmark, {image.repository}\n")
            edited = build_image(builder, image, context)
            rows.append((image.repository, cold.seconds, unchanged.seconds, edited.seconds, edited.size_bytes / 1e6))
    print(f"\n{'image':<12} {'cold s':>8} {'warm s':>8} {'edit s':>8} {'size MB':>8}")
    for repository, cold_s, unchanged_s, edited_s, size in rows:
        print(f"{repository:<12} {cold_s:>8.0f} {unchanged_s:>8.0f} {edited_s:>8.0f} {size:>8.0f}")


if __name__ == "__main__":
    main()
