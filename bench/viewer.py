"""Time to first frame and frame rate of the viewer page in headless Chromium (software WebGL).

Usage: ``python bench/viewer.py SCENE.sog [...]`` (``--synthetic N`` adds a compressed
synthetic scene of N splats, SH degree 3, written once to ``--cache``). Each scene is served
with its page from a local HTTP server, as S3 serves a run's prefix; the page is opened in a
1280x720 window (``--size``), the time from navigation start to the first drawn frame of the splat is read
from the page, then the camera orbits for a few seconds while frames are counted.
"""

from __future__ import annotations

import argparse
import gzip
import logging
import os
import shutil
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

from splatflow.viewer import VIEWER_FILE_NAME, viewer_link, viewer_page

sys.path.append(str(Path(__file__).resolve().parent.parent / "tests"))  # the tests' synthetic scene and page server
from local_http import served

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ORBIT_FOR_MS = 5000
table = logging.getLogger("bench_viewer")


@dataclass(frozen=True)
class Measurement:
    scene: str
    sog_bytes: int
    first_frame_ms: float
    frames_per_second: float


def synthetic_sog(count: int, cache: Path) -> Path:
    from synthetic_scene import synthetic_scene

    from splatflow.formats.sog import write_sog
    from splatflow.stages.compress.encoder import encode_splats

    path = cache / f"synthetic-{count}.sog"
    if not path.is_file():
        write_sog(encode_splats(synthetic_scene(count, sh_degree=3, seed=1)).encoded, path)
    return path


def measure(browser: Any, base: str, scene: str, sog_bytes: int, size: tuple[int, int]) -> Measurement:
    page = browser.new_page(viewport={"width": size[0], "height": size[1]})
    page.goto(viewer_link(f"{base}/{VIEWER_FILE_NAME}", f"{base}/{scene}"))
    page.wait_for_function("document.body.dataset.state !== 'loading'", timeout=300_000)
    if page.evaluate("document.body.dataset.state") != "ready":
        raise RuntimeError(f"{scene}: {page.evaluate('window.splatViewer.error')}")
    first_frame_ms = page.evaluate("window.splatViewer.firstFrameMs")
    frames_per_second = page.evaluate(
        """(duration) => new Promise((done) => {
            const viewer = window.splatViewer;
            const startFrames = viewer.frames;
            const start = performance.now();
            const spin = () => {
                viewer.camera.orbit.yaw += 0.5;
                if (performance.now() - start < duration) { requestAnimationFrame(spin); return; }
                done((viewer.frames - startFrames) * 1000 / (performance.now() - start));
            };
            requestAnimationFrame(spin);
        })""",
        ORBIT_FOR_MS,
    )
    page.close()
    return Measurement(scene, sog_bytes, first_frame_ms, frames_per_second)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenes", nargs="*", type=Path, help=".sog files")
    parser.add_argument("--synthetic", type=int, action="append", default=[], help="splat count of a synthetic scene")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "splatflow-viewer-bench")
    parser.add_argument("--repeat", type=int, default=3, help="page loads per scene (the median is shown)")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--size", type=int, nargs=2, default=[1280, 720], metavar=("WIDTH", "HEIGHT"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args.cache.mkdir(parents=True, exist_ok=True)
    scenes = [*args.scenes, *(synthetic_sog(count, args.cache) for count in args.synthetic)]

    page = viewer_page({"run_id": "bench", "quality": {}}).encode()
    table.info("viewer page: %.2f MB, %.2f MB gzipped", len(page) / 1e6, len(gzip.compress(page)) / 1e6)
    table.info("window %dx%d; load average %s", *args.size, " ".join(f"{v:.1f}" for v in os.getloadavg()))
    table.info("%-28s %8s %15s %10s", "scene", ".sog MB", "first frame ms", "orbit fps")
    with tempfile.TemporaryDirectory() as folder, served(Path(folder)) as base, sync_playwright() as playwright:
        (Path(folder) / VIEWER_FILE_NAME).write_bytes(page)
        browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_FLAGS)
        for index, scene in enumerate(scenes):
            name = f"{index}-{scene.name}"
            shutil.copyfile(scene, Path(folder) / name)
            runs = [measure(browser, base, name, scene.stat().st_size, tuple(args.size)) for _ in range(args.repeat)]
            first = statistics.median(run.first_frame_ms for run in runs)
            fps = statistics.median(run.frames_per_second for run in runs)
            table.info("%-28s %8.2f %15.0f %10.1f", str(scene)[-28:], scene.stat().st_size / 1e6, first, fps)
        browser.close()


if __name__ == "__main__":
    main()
