"""The viewer page in a real browser: it draws the splat, and says why when it cannot.

Served the way S3 serves a run's prefix (the page and the ``.sog`` side by side, both with a
presigned-style query string), opened with ``#sog=<url-encoded .sog URL>``.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from splatflow.viewer import VIEWER_FILE_NAME, viewer_link, viewer_page

pytestmark = pytest.mark.slow

SIGNATURE = "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=3600&X-Amz-Signature=abc123"
BACKGROUND = np.array([29, 31, 36])
"""The viewer's clear colour (0.114, 0.122, 0.141) in 8-bit."""
MANIFEST = {"run_id": "manual__browser", "quality": {"gaussians": 8000, "psnr_db": 24.5}}


def scene_coverage(png: bytes) -> float:
    """The share of pixels that differ clearly from the empty background."""
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)
    return float((np.abs(pixels - BACKGROUND).max(axis=2) > 24).mean())


def open_viewer(browser: Any, url: str) -> Any:
    page = browser.new_page(viewport={"width": 480, "height": 360})
    page.goto(url)
    page.wait_for_function("document.body.dataset.state !== 'loading'", timeout=60_000)
    return page


def canvas_still(page: Any) -> bytes:
    """The 3-D view alone: the panel is hidden so only what the engine drew is measured."""
    page.evaluate("document.getElementById('panel').hidden = true")
    still: bytes = page.locator("#scene").screenshot()
    return still


def test_viewer_draws_the_splat_named_in_its_fragment(
    browser: Any, scene_sog: Path, static_site: tuple[str, Path]
) -> None:
    base, folder = static_site
    (folder / VIEWER_FILE_NAME).write_text(viewer_page(MANIFEST), encoding="utf-8")
    (folder / "scene.sog").write_bytes(scene_sog.read_bytes())

    page = open_viewer(browser, viewer_link(f"{base}/{VIEWER_FILE_NAME}{SIGNATURE}", f"{base}/scene.sog{SIGNATURE}"))

    assert page.evaluate("document.body.dataset.state") == "ready", page.evaluate("window.splatViewer.error")
    assert page.locator("#error").is_hidden()
    assert page.locator("#download").get_attribute("href") == f"{base}/scene.sog{SIGNATURE}"
    assert "24.50 dB" in page.locator("#metrics").inner_text()
    with_splat = scene_coverage(canvas_still(page))
    page.evaluate("window.splatViewer.splat.enabled = false")
    frames = page.evaluate("window.splatViewer.frames")
    page.wait_for_function("(start) => window.splatViewer.frames > start + 2", arg=frames)
    without_splat = scene_coverage(canvas_still(page))
    assert without_splat < 0.005
    assert with_splat > 0.04
    page.close()


def test_viewer_reports_a_splat_it_cannot_load_instead_of_a_blank_view(
    browser: Any, static_site: tuple[str, Path]
) -> None:
    base, folder = static_site
    (folder / VIEWER_FILE_NAME).write_text(viewer_page(MANIFEST), encoding="utf-8")

    page = open_viewer(browser, viewer_link(f"{base}/{VIEWER_FILE_NAME}", f"{base}/expired.sog"))

    assert page.evaluate("document.body.dataset.state") == "error"
    assert "could not be loaded" in page.locator("#error").inner_text()
    assert page.locator("#error").is_visible()
    page.close()
