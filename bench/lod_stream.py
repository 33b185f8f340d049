"""Single ``.sog`` against the streamed LOD bundle, in headless Chromium on a throttled network.

Usage: ``python bench/lod_stream.py [--splats 300000 1000000 3000000] [--mbits 10 100]``.

Each model is a synthetic drone scene (``tests/synthetic_scene.py``, SH degree 0 so the CPU
encodes 3 M splats in about a minute; its 13 bytes a splat are close to a trained SH-1 model's
15), compressed once into ``--cache`` as the compression stage does: ``scene.sog`` and, with the
stage's settings, ``lod/``. Both are served beside the run's viewer page, stored gzipped as the
publish step stores it. Chromium's network emulation (CDP ``Network.emulateNetworkConditions``)
holds the link to ``--mbits`` with ``--latency-ms`` of round trip; the window is a phone's
(390x844), so the viewer uses its phone splat budget (1 M). Each load gets a fresh browser.

Measured from navigation start: the first frame with splats (``splatViewer.firstFrameMs``), and
full detail: for the ``.sog`` the same moment, for the bundle the last time the count of drawn
splats changed before it stayed put for ``--quiet-s``; with the splats drawn at each and the
bytes received by then. Software WebGL (SwiftShader) makes each frame and the engine's sort
slow: the times include that CPU cost, which a phone's GPU does not pay the same way.
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from playwright.sync_api import sync_playwright

from splatflow.contract.compress_settings import Settings
from splatflow.formats.sog import WebpEffort, write_sog
from splatflow.stages.compress.encoder import EncoderOptions, encode_splats
from splatflow.stages.compress.lod_bundle import write_lod_bundle
from splatflow.stages.compress.lod_levels import detail_levels
from splatflow.viewer import viewer_page

sys.path.append(str(Path(__file__).resolve().parent.parent / "tests"))  # the tests' synthetic scene and page server
from local_http import QuietHandler, served
from synthetic_scene import synthetic_scene

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PHONE = {"width": 390, "height": 844}
table = logging.getLogger("bench_lod_stream")


@dataclass(frozen=True)
class Run:
    first_ms: float | None
    first_splats: int
    first_bytes: int
    full_ms: float | None
    full_splats: int
    total_bytes: int


def build(count: int, cache: Path) -> Path:
    """The model's folder: ``scene.sog`` and ``lod/``, written once."""
    folder = cache / f"synthetic-{count}"
    if (folder / "lod" / "lod-meta.json").is_file():
        return folder
    settings = Settings()
    splats = synthetic_scene(count, sh_degree=0, seed=1)
    started = time.monotonic()
    write_sog(encode_splats(splats).encoded, folder / "scene.sog", workers=os.cpu_count() or 1)
    table.info("%d splats: .sog in %.0f s", count, time.monotonic() - started)
    started = time.monotonic()
    levels = detail_levels(splats, settings.lod_coarsest_splats, settings.lod_max_levels)
    written = write_lod_bundle(levels, None, folder / "lod", EncoderOptions(), WebpEffort(), os.cpu_count() or 1)
    table.info("%d splats: bundle %s in %.0f s", count, written.counts, time.monotonic() - started)
    return folder


class _Handler(QuietHandler):
    """Serves the folder, and the two viewer pages gzipped with ``Content-Encoding: gzip`` as S3
    serves the published one: ``streamed.html`` names the bundle, ``single.html`` only the ``.sog``."""

    pages: ClassVar[dict[str, bytes]] = {}

    def do_GET(self) -> None:  # noqa: N802 (http.server dispatches on this name)
        page = self.pages.get(self.path.split("?")[0].lstrip("/"))
        if page is None:
            super().do_GET()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)


def measure(browser: Any, url: str, mbits: float, latency_ms: float, quiet_s: float, limit_s: float) -> Run:
    page = browser.new_page(viewport=PHONE)
    sent: list[float] = []
    received: list[tuple[float, int]] = []
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    urls: dict[str, str] = {}

    requested: list[tuple[float, str]] = []

    def on_sent(event: dict[str, Any]) -> None:
        sent.append(event["timestamp"])
        urls[event["requestId"]] = event["request"]["url"].rsplit("/", 2)[-2:][0]
        requested.append((event["timestamp"], urls[event["requestId"]]))

    cdp.on("Network.requestWillBeSent", on_sent)
    finished: list[tuple[float, str]] = []
    cdp.on(
        "Network.loadingFinished", lambda event: finished.append((event["timestamp"], urls.get(event["requestId"], "")))
    )
    cdp.on("Network.loadingFinished", lambda event: received.append((event["timestamp"], event["encodedDataLength"])))
    rate = mbits * 1e6 / 8
    conditions = {"offline": False, "latency": latency_ms, "downloadThroughput": rate, "uploadThroughput": rate}
    cdp.send("Network.emulateNetworkConditions", conditions)
    started = time.monotonic()
    page.goto(url, wait_until="commit")
    first_ms = full_ms = None
    first_splats = full_splats = 0
    steps: list[tuple[float, int]] = []
    while time.monotonic() - started < limit_s:
        state = page.evaluate(
            "window.splatViewer ? [window.splatViewer.firstFrameMs,"
            " window.splatViewer.firstSplats || window.splatViewer.splatsDrawn, window.splatViewer.splatsDrawn,"
            " window.splatViewer.splatsChangedMs, performance.now(), window.splatViewer.error,"
            " window.splatViewer.streamed !== null] : null"
        )
        if state is None:
            time.sleep(0.1)
            continue
        first, first_count, drawn, changed, now, error, streamed = state
        if error:
            raise RuntimeError(error)
        if first is not None and first_ms is None:
            first_ms, first_splats = first, first_count
        if drawn and (not steps or steps[-1][1] != drawn):
            steps.append((changed, drawn))
        if first_ms is not None and not streamed and drawn:
            # A single .sog is drawn whole: its first frame is its full detail.
            full_ms, full_splats = first_ms, drawn
            first_splats = drawn
            break
        if first_ms is not None and streamed and changed is not None and now - changed > quiet_s * 1000:
            full_ms, full_splats = changed, drawn
            break
        time.sleep(0.25)
    page_marks = page.evaluate(
        "Object.fromEntries(['responseEnd', 'domInteractive', 'domContentLoadedEventStart']"
        ".map(name => [name, Math.round(performance.getEntriesByType('navigation')[0][name])]))"
    )
    page.close()
    table.debug("drawn splats by time (s): %s", ", ".join(f"{ms / 1000:.1f}: {count:,}" for ms, count in steps))
    # CDP stamps requests on the browser's monotonic clock: the page's own request is navigation
    # start, from which the page's performance.now() counts too.
    start = min(sent) if sent else 0.0
    first_asked: dict[str, float] = {}
    for stamp, folder in requested:
        first_asked.setdefault(folder, stamp - start)
    table.debug("files first requested at (s): %s", ", ".join(f"{name}: {at:.1f}" for name, at in first_asked.items()))
    table.debug("page marks (ms): %s", page_marks)
    last_of: dict[str, float] = {}
    for stamp, folder in finished:
        last_of[folder] = max(last_of.get(folder, 0.0), stamp - start)
    table.debug(
        "files received by (s): %s",
        ", ".join(f"{name}: {at:.1f}" for name, at in sorted(last_of.items(), key=lambda item: item[1])),
    )
    by_first = sum(size for stamp, size in received if first_ms is not None and (stamp - start) * 1000 <= first_ms)
    return Run(first_ms, first_splats, by_first, full_ms, full_splats, sum(size for _, size in received))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splats", type=int, nargs="+", default=[300_000, 1_000_000, 3_000_000])
    parser.add_argument("--mbits", type=float, nargs="+", default=[10.0, 100.0])
    parser.add_argument("--latency-ms", type=float, default=40.0)
    parser.add_argument("--verbose", action="store_true", help="log each change of the drawn splats")
    parser.add_argument("--quiet-s", type=float, default=10.0, help="drawn count unchanged this long: full detail")
    parser.add_argument("--limit-s", type=float, default=150.0, help="give up on a page load after this long")
    parser.add_argument("--cache", type=Path, default=Path(".local/bench-lod"))
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    table.setLevel(logging.DEBUG if args.verbose else logging.INFO)
    folders = {count: build(count, args.cache) for count in args.splats}
    quality: dict[str, Any] = {}
    streamed = viewer_page({"run_id": "bench", "quality": quality}, sog_url="scene.sog", lod_url="lod/lod-meta.json")
    single = viewer_page({"run_id": "bench", "quality": quality}, sog_url="scene.sog")
    _Handler.pages = {"streamed.html": gzip.compress(streamed.encode(), mtime=0)}
    _Handler.pages["single.html"] = gzip.compress(single.encode(), mtime=0)
    table.info(
        "viewer page %.2f MB, %.2f MB gzipped; phone window %dx%d; latency %.0f ms; load average %s",
        len(streamed.encode()) / 1e6,
        len(_Handler.pages["streamed.html"]) / 1e6,
        PHONE["width"],
        PHONE["height"],
        args.latency_ms,
        " ".join(f"{v:.1f}" for v in os.getloadavg()),
    )
    table.info(
        "| splats | link | delivery | files MB | first frame s | splats at first | MB by first |"
        " full detail s | splats at full |"
    )
    table.info("|---|---|---|---:|---:|---:|---:|---:|---:|")
    with sync_playwright() as playwright:
        for count, folder in folders.items():
            meta = json.loads((folder / "lod" / "lod-meta.json").read_text())
            lod_bytes = sum(path.stat().st_size for path in (folder / "lod").rglob("*") if path.is_file())
            deliveries = {"single .sog": ("single.html", (folder / "scene.sog").stat().st_size)}
            deliveries["streamed"] = ("streamed.html", lod_bytes)
            with served(folder, _Handler) as base:
                for mbits in args.mbits:
                    for delivery, (page_name, size) in deliveries.items():
                        # A fresh browser for each load: a closed page's splats kept its main thread
                        # busy for seconds and delayed the next page's scripts (docs/benchmarks.md).
                        browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_FLAGS)
                        run = measure(
                            browser, f"{base}/{page_name}", mbits, args.latency_ms, args.quiet_s, args.limit_s
                        )
                        browser.close()
                        table.info(
                            "| %s | %g Mbit/s | %s | %.1f | %s | %s | %.1f | %s | %s |",
                            f"{count / 1e6:g} M ({len(meta['counts'])} levels)",
                            mbits,
                            delivery,
                            size / 1e6,
                            "-" if run.first_ms is None else f"{run.first_ms / 1000:.1f}",
                            f"{run.first_splats:,}",
                            run.first_bytes / 1e6,
                            f"> {args.limit_s:.0f}" if run.full_ms is None else f"{run.full_ms / 1000:.1f}",
                            f"{run.full_splats:,}",
                        )


if __name__ == "__main__":
    main()
