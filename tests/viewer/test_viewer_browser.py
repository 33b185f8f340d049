"""The viewer page in a real browser: it draws the splat as our renderer does, or says why not.

Opened the way the email opens it: the page and the ``.sog`` side by side in a run's prefix in S3
(moto), the presigned page URL with ``#sog=<url-encoded presigned .sog URL>``; the still is compared
with ``splatflow.render.render_splats`` of the same ``.sog`` from the same camera.
"""

from __future__ import annotations

import dataclasses
import io
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from synthetic_captures import nadir_grid
from synthetic_scene import synthetic_scene

from splatflow.formats.cameras import Camera, write_cameras
from splatflow.formats.sog import read_sog, write_sog
from splatflow.pipeline.layout import RunLayout
from splatflow.pipeline.manifest import QualityMetrics
from splatflow.pipeline.publishing import put_viewer_page
from splatflow.render import render_splats
from splatflow.stages.compress.encoder import encode_splats
from splatflow.stages.compress.stills import site_views
from splatflow.viewer import VIEWER_FILE_NAME, viewer_link, viewer_page

pytestmark = pytest.mark.slow

VIEWER_BUCKET = "splatflow-viewer-browser"
"""Its own name: moto keeps buckets per process, shared with every other test."""
BACKGROUND = np.array([0, 0, 0])
"""The viewer's clear colour: black, the background training composites over."""
MANIFEST = {"run_id": "manual__browser", "quality": {"gaussians": 8000, "psnr_db": 24.5}}


WIDTH, HEIGHT, FOCAL = 320, 240, 200.0


def drone_camera(tilt_degrees: float) -> Camera:
    """A camera 80 units above the synthetic scene, looking down and tilted about its x axis."""
    tilt = math.radians(tilt_degrees)
    turn = np.array([[1, 0, 0], [0, math.cos(tilt), -math.sin(tilt)], [0, math.sin(tilt), math.cos(tilt)]])
    world_to_camera = np.eye(4)
    world_to_camera[:3, :3] = turn @ np.diag([1.0, -1.0, -1.0])
    world_to_camera[:3, 3] = turn @ np.array([0.0, 0.0, 80.0])
    rows = tuple(tuple(float(value) for value in row) for row in world_to_camera)
    return Camera("above", WIDTH, HEIGHT, FOCAL, FOCAL, WIDTH / 2, HEIGHT / 2, rows)


def pixels_of(png: bytes) -> np.ndarray[Any, np.dtype[np.float64]]:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.float64) / 255


def scene_coverage(png: bytes) -> float:
    """The share of pixels that differ clearly from the empty background."""
    return float((np.abs(pixels_of(png) - BACKGROUND / 255).max(axis=2) > 24 / 255).mean())


def open_viewer(browser: Any, url: str, size: tuple[int, int] = (480, 360)) -> Any:
    page = browser.new_page(viewport={"width": size[0], "height": size[1]})
    page.goto(url)
    page.wait_for_function("document.body.dataset.state !== 'loading'", timeout=60_000)
    return page


def wait_frames(page: Any, count: int) -> None:
    frames = page.evaluate("window.splatViewer.frames")
    page.wait_for_function("([start, count]) => window.splatViewer.frames > start + count", arg=[frames, count])


def canvas_still(page: Any) -> bytes:
    """The 3-D view alone: the panel is hidden so only what the engine drew is measured."""
    page.evaluate("document.getElementById('panel').hidden = true")
    still: bytes = page.locator("#scene").screenshot()
    return still


def test_viewer_opens_from_presigned_s3_links_alone(browser: Any, scene_sog: Path, s3_server: tuple[str, Any]) -> None:
    _, s3 = s3_server
    s3.create_bucket(Bucket=VIEWER_BUCKET)
    prefix = "runs/manual-browser/compress/"
    # The page as the publish step stores it (gzipped, for the browser to unpack).
    quality = QualityMetrics(gaussians=8000, psnr_db=24.5)
    put_viewer_page(s3, RunLayout(VIEWER_BUCKET, "runs/manual-browser"), quality, "manual__browser", None)
    s3.put_object(Bucket=VIEWER_BUCKET, Key=prefix + "scene.sog", Body=scene_sog.read_bytes())

    def presign(key: str) -> str:
        url: str = s3.generate_presigned_url("get_object", Params={"Bucket": VIEWER_BUCKET, "Key": key}, ExpiresIn=600)
        return url

    sog_url = presign(prefix + "scene.sog")
    page = open_viewer(browser, viewer_link(presign(prefix + VIEWER_FILE_NAME), sog_url))

    assert page.evaluate("document.body.dataset.state") == "ready", page.evaluate("window.splatViewer.error")
    assert page.locator("#error").is_hidden()
    assert page.locator("#download").get_attribute("href") == sog_url
    assert "24.50 dB" in (page.locator("#metrics").text_content() or "")
    with_splat = scene_coverage(canvas_still(page))
    page.evaluate("window.splatViewer.splat.enabled = false")
    wait_frames(page, 2)
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


def test_viewer_draws_what_our_renderer_draws_from_the_same_camera(
    browser: Any, scene_sog: Path, static_site: tuple[str, Path]
) -> None:
    base, folder = static_site
    (folder / VIEWER_FILE_NAME).write_text(viewer_page(MANIFEST), encoding="utf-8")
    (folder / "scene.sog").write_bytes(scene_sog.read_bytes())
    camera = drone_camera(tilt_degrees=30)
    expected = render_splats(read_sog(scene_sog), camera, background=tuple(BACKGROUND / 255))

    page = open_viewer(browser, viewer_link(f"{base}/{VIEWER_FILE_NAME}", "scene.sog"), size=(WIDTH, HEIGHT))
    vertical_fov = math.degrees(2 * math.atan(HEIGHT / 2 / FOCAL))
    page.evaluate(
        "([m, fov]) => window.splatViewer.showPhotoView(m, fov)", [camera.view_matrix().ravel().tolist(), vertical_fov]
    )
    wait_frames(page, 5)
    seen = pixels_of(canvas_still(page))
    page.close()

    blank = np.broadcast_to(BACKGROUND / 255, expected.shape)
    # Measured: 0.017 against the render, 0.13 against an empty view, 0.10 mirrored.
    assert np.abs(seen - expected).mean() < 0.04
    assert np.abs(seen - expected).mean() < 0.3 * np.abs(blank - expected).mean()
    assert np.abs(seen[:, ::-1] - expected).mean() > 2 * np.abs(seen - expected).mean()


def test_viewer_opens_on_the_overview_the_bundle_carries_and_draws_its_colours(
    browser: Any, tmp_path: Path, static_site: tuple[str, Path]
) -> None:
    """The first view is the compression stage's preview camera (over a nadir survey), drawn as
    our renderer draws it, with the same mean colour: the viewer adds no tint of its own."""
    base, folder = static_site
    scene = synthetic_scene(8000, sh_degree=1, seed=3)
    scene = dataclasses.replace(scene, scales=scene.scales + np.float32(np.log(4.0)), antialiased=True)
    write_cameras(nadir_grid(), tmp_path / "cameras.json", up=[0.0, 0.0, 1.0])
    views = site_views(scene, tmp_path / "cameras.json")
    assert views is not None
    (folder / VIEWER_FILE_NAME).write_text(viewer_page(MANIFEST), encoding="utf-8")
    write_sog(encode_splats(scene).encoded, folder / "scene.sog", extras=views.viewer_extras())
    camera = views.preview.camera.scaled(0.5)
    expected = render_splats(read_sog(folder / "scene.sog"), camera, background=tuple(BACKGROUND / 255))

    link = viewer_link(f"{base}/{VIEWER_FILE_NAME}", "scene.sog")
    page = open_viewer(browser, link, size=(camera.width, camera.height))
    assert page.evaluate("window.splatViewer.firstView") == "overview"
    assert page.evaluate("pc.Application.getApplication().scene.gsplat.antiAlias") is True
    wait_frames(page, 5)
    seen = pixels_of(canvas_still(page))
    page.close()

    # Measured: 0.009 against the render, 0.070 mirrored; the mean colour 1.5 - 1.6 steps darker
    # in each channel alike (blending order and the splat footprint's cut-off), 0.1 step of tint.
    assert np.abs(seen - expected).mean() < 0.03
    assert np.abs(seen[:, ::-1] - expected).mean() > 3 * np.abs(seen - expected).mean()
    covered = np.abs(expected - BACKGROUND / 255).max(axis=2) > 0.1
    colour_shift = (seen[covered].mean(axis=0) - expected[covered].mean(axis=0)) * 255
    assert np.ptp(colour_shift) < 1.0, f"the viewer tints the splat: {colour_shift} steps per channel"
    assert np.abs(colour_shift).max() < 4, f"the viewer shifts the mean colour by {colour_shift} steps"
