"""The viewer streams a large model's LOD bundle in a real browser (Debian's Chromium, software WebGL).

The page is served beside ``lod/`` and ``scene.sog`` as the Airflow plugin serves them. It must
draw the bundle's coarsest level first, from the bundle's files and not from the ``.sog``, then
sharpen as finer chunks arrive, within the splat budget; and fall back to the ``.sog`` when the
bundle cannot be read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from screenshots import SCREENSHOTS
from signed_run_output import ENVIRONMENT_SPLATS, upload_run_output, write_run_output
from synthetic_scene import synthetic_scene
from test_viewer_browser import canvas_still, scene_coverage, wait_frames

from splatflow.contract.outputs import LOD_META
from splatflow.formats.sog import WebpEffort, write_sog
from splatflow.pipeline.emails.composition import presigned_links
from splatflow.pipeline.layout import RunLayout
from splatflow.pipeline.link_signing import LinkSigner
from splatflow.pipeline.manifest import QualityMetrics
from splatflow.pipeline.publishing import put_viewer_page
from splatflow.pipeline.settings import PipelineSettings
from splatflow.stages.compress.encoder import EncoderOptions, encode_splats
from splatflow.stages.compress.lod_bundle import ChunkSizes, write_lod_bundle
from splatflow.stages.compress.lod_levels import detail_levels
from splatflow.viewer import VIEWER_FILE_NAME, viewer_page

pytestmark = pytest.mark.slow

MANIFEST = {"run_id": "manual__streaming", "quality": {"gaussians": 16000}}


@pytest.fixture(scope="module")
def site_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run's compression output: the 16,000-splat scene as .sog and as a bundle of 4 levels."""
    folder = tmp_path_factory.mktemp("run")
    scene = synthetic_scene(16000, sh_degree=0, seed=21)
    write_sog(encode_splats(scene).encoded, folder / "scene.sog")
    levels = detail_levels(scene, coarsest_splats=400, max_levels=4)
    write_lod_bundle(levels, None, folder / "lod", EncoderOptions(), WebpEffort(), sizes=ChunkSizes(3000, 4000))
    return folder


@pytest.fixture
def site(static_site: tuple[str, Path], site_files: Path) -> tuple[str, Path]:
    base, folder = static_site
    for path in site_files.rglob("*"):
        if path.is_file():
            target = folder / path.relative_to(site_files)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    return base, folder


THROTTLE = {"offline": False, "latency": 20, "downloadThroughput": 4_000_000 / 8, "uploadThroughput": 4_000_000 / 8}
"""Chromium's network emulation (CDP ``Network.emulateNetworkConditions``) at 4 Mbit/s: slow
enough that this small bundle's chunks arrive one after another, as a large model's do on a
phone's link."""


def open_streaming(browser: Any, url: str) -> tuple[Any, list[str]]:
    page = browser.new_page(viewport={"width": 480, "height": 360})
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", THROTTLE)
    page.goto(url)
    page.wait_for_function("document.body.dataset.state !== 'loading'", timeout=90_000)
    return page, requested


def settled(page: Any, quiet_ms: int = 3000) -> int:
    """The splats drawn once their count has not changed for ``quiet_ms``."""
    page.wait_for_function(
        "quiet => window.splatViewer.splatsChangedMs !== null"
        " && performance.now() - window.splatViewer.splatsChangedMs > quiet",
        arg=quiet_ms,
        timeout=120_000,
    )
    drawn: int = page.evaluate("window.splatViewer.splatsDrawn")
    return drawn


def test_the_page_draws_the_coarse_level_first_from_the_bundle_then_sharpens(
    browser: Any, site: tuple[str, Path]
) -> None:
    base, folder = site
    (folder / VIEWER_FILE_NAME).write_text(viewer_page(MANIFEST, sog_url="scene.sog", lod_url="lod/lod-meta.json"))
    meta = json.loads((folder / "lod" / "lod-meta.json").read_text())
    coarsest = meta["lodLevels"] - 1

    page, requested = open_streaming(browser, f"{base}/{VIEWER_FILE_NAME}")

    assert page.evaluate("document.body.dataset.state") == "ready", page.evaluate("window.splatViewer.error")
    first = page.evaluate("window.splatViewer.firstSplats")
    assert 0 < first <= meta["counts"][1], f"the first frame draws a coarse level ({first} splats)"
    assert any(url.endswith(f"lod/{coarsest}_0/meta.json") for url in requested)
    wait_frames(page, 3)
    assert scene_coverage(canvas_still(page)) > 0.04, "the coarse level shows the scene"
    drawn = settled(page)
    assert drawn == meta["counts"][0], f"sharpened from {first} to {drawn} splats as finer chunks arrived"
    assert any("/lod/0_" in url for url in requested), "the finest level's chunks were fetched"
    assert not any(url.endswith("scene.sog") for url in requested), "nothing was drawn from the single .sog"
    assert page.evaluate("window.splatViewer.streamed.budget") == 1_000_000, "a phone-sized page: the phone's budget"
    page.close()


@pytest.mark.parametrize("named_by", ["page", "fragment"])
def test_the_page_requests_the_bundle_index_before_the_inlined_engine_has_run(
    browser: Any, site: tuple[str, Path], named_by: str
) -> None:
    """Whether the page names its bundle or the link's ``#lod=`` does (the emailed link)."""
    base, folder = site
    default = "lod/lod-meta.json" if named_by == "page" else ""
    (folder / VIEWER_FILE_NAME).write_text(viewer_page(MANIFEST, sog_url="scene.sog", lod_url=default))
    fragment = "" if named_by == "page" else f"#lod={base}/lod/lod-meta.json"

    page, _ = open_streaming(browser, f"{base}/{VIEWER_FILE_NAME}{fragment}")

    index_started = page.evaluate(
        "performance.getEntriesByType('resource').filter(e => e.name.endsWith('/lod/lod-meta.json'))"
        ".map(e => e.startTime)"
    )
    parsed = page.evaluate("performance.getEntriesByType('navigation')[0].domInteractive")
    assert index_started, "the index was fetched"
    assert min(index_started) < parsed, (
        f"index asked for at {min(index_started):.0f} ms, page parsed at {parsed:.0f} ms"
    )
    assert page.evaluate("document.body.dataset.state") == "ready", page.evaluate("window.splatViewer.error")
    page.close()


def test_the_splat_budget_caps_what_is_drawn(browser: Any, site: tuple[str, Path]) -> None:
    base, folder = site
    (folder / VIEWER_FILE_NAME).write_text(viewer_page(MANIFEST, sog_url="scene.sog", lod_url="lod/lod-meta.json"))
    meta = json.loads((folder / "lod" / "lod-meta.json").read_text())

    page, _ = open_streaming(browser, f"{base}/{VIEWER_FILE_NAME}#budget=3000")

    drawn = settled(page)
    assert meta["counts"][-1] * 0.9 <= drawn <= 3000 * 1.05, f"{drawn} splats drawn under a budget of 3,000"
    page.close()


def test_a_bundle_that_cannot_be_read_falls_back_to_the_single_sog(browser: Any, site: tuple[str, Path]) -> None:
    base, folder = site
    (folder / VIEWER_FILE_NAME).write_text(viewer_page(MANIFEST, sog_url="scene.sog", lod_url="lod/missing.json"))

    page, requested = open_streaming(browser, f"{base}/{VIEWER_FILE_NAME}")

    assert page.evaluate("document.body.dataset.state") == "ready", page.evaluate("window.splatViewer.error")
    assert page.evaluate("window.splatViewer.streamed") is None
    assert "404" in page.evaluate("window.splatViewer.streamFailure")
    assert any(url.endswith("scene.sog") for url in requested)
    assert page.locator("#error").is_hidden()
    page.close()


"""Where the emailed link's still is kept for a person to look at (outside the repository)."""


def test_the_emailed_viewer_link_streams_the_bundle_through_presigned_urls_alone(
    browser: Any, s3_server: tuple[str, Any], tmp_path: Path
) -> None:
    """The email's links, signed against the embedded runtime's S3 (moto), open the streamed
    bundle: every bundle file the page fetches is a presigned URL from the signed copies, and the
    single ``.sog`` is never fetched."""
    endpoint, s3 = s3_server
    s3.create_bucket(Bucket="emailed")
    output = upload_run_output(s3, "emailed", "manual__emailed", write_run_output(tmp_path))
    put_viewer_page(
        s3, RunLayout("emailed", "runs/manual__emailed"), QualityMetrics(gaussians=6000), "manual__emailed", None
    )
    names = {"sog": "scene.sog", "ply": "scene.sog", "viewer": VIEWER_FILE_NAME, "lod": LOD_META}
    manifest = {"outputs": {name: output.uri(file) for name, file in names.items()}}
    links = presigned_links(manifest, PipelineSettings(presign_expiry_seconds=600), LinkSigner(s3, None), s3)

    page, requested = open_streaming(browser, links.viewer)

    assert page.evaluate("document.body.dataset.state") == "ready", page.evaluate("window.splatViewer.error")
    assert page.evaluate("window.splatViewer.streamFailure") is None
    drawn = settled(page)
    assert drawn == output.lod_meta["counts"][0] + ENVIRONMENT_SPLATS, f"streamed to full detail ({drawn} splats)"
    from_s3 = [url for url in requested if url.startswith(endpoint)]
    bundle = [url for url in from_s3 if "/lod/" in url]
    assert any("/signed/lod/lod-meta.json?" in url for url in bundle), "the page opened the signed index"
    assert any(".webp?" in url for url in bundle) and any("/signed/lod/0_" in url for url in bundle)
    assert all("X-Amz-Signature=" in url for url in from_s3), "every file came through a presigned URL"
    assert not any("scene.sog" in url.split("?")[0] for url in from_s3), "the single .sog was never fetched"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "emailed-viewer-streaming.png"))
    page.close()
