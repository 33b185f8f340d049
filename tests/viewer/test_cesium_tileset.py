"""The delivered 3D Tiles tileset opened in CesiumJS 1.145 in Debian's Chromium.

CesiumJS comes from the npm registry (``cesium@1.145.0``, into ``.local/``, once) and is served
from this machine with the tileset, so nothing is fetched at run time. The test builds the tileset
as a geo-registered run does (the compression stage's tile content, the publish step's
``tileset.json``) and asks Cesium where it put the splats: it must draw them as Gaussian splats
(a ``GaussianSplatPrimitive`` holding every splat), centre them within a few metres of the GPS
origin plus the splats' own ENU centre, and hand every splat back, in its local east-north-up
frame, where our ENU puts it, so the model stands right side up (up stays up, north stays north).
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import numpy as np
import pytest
from local_http import served
from screenshots import SCREENSHOTS
from signed_run_output import upload_run_output, write_run_output
from synthetic_scene import synthetic_scene

from splatflow.contract.outputs import TILE_CONTENT, TILESET
from splatflow.formats.spz import SPZ_BOUNDS
from splatflow.pipeline.emails.composition import presigned_links
from splatflow.pipeline.link_signing import LinkSigner
from splatflow.pipeline.settings import PipelineSettings
from splatflow.pipeline.tileset import GeoOrigin, build_tileset
from splatflow.stages.compress.stage import write_tile_content
from splatflow.viewer import VIEWER_FILE_NAME

REPO_ROOT = Path(__file__).resolve().parents[2]
CESIUM_VERSION = "1.145.0"
CESIUM_PREFIX = REPO_ROOT / ".local" / f"node-cesium-{CESIUM_VERSION}"
ORIGIN = GeoOrigin(50.8198, -0.1366, 48.0)
PAGE = """<!DOCTYPE html><html><head><script src="cesium/Cesium.js"></script>
<link rel="stylesheet" href="cesium/Widgets/widgets.css">
<style>html,body,#map{width:100%;height:100%;margin:0}</style></head><body><div id="map"></div><script>
window.CESIUM_BASE_URL = "cesium/";
(async () => {
  try {
    const viewer = new Cesium.Viewer("map", {baseLayer: false, baseLayerPicker: false, geocoder: false,
      timeline: false, animation: false, skyBox: false, terrainProvider: new Cesium.EllipsoidTerrainProvider()});
    const url = new URLSearchParams(location.search).get("tileset") || "tileset.json";
    const tileset = await Cesium.Cesium3DTileset.fromUrl(url);
    viewer.scene.primitives.add(tileset);
    await viewer.zoomTo(tileset, new Cesium.HeadingPitchRange(0, -0.6, 200));
    while (!tileset.tilesLoaded || !tileset.root.content?.positions || !tileset.gaussianSplatPrimitive?._numSplats) {
      viewer.scene.render();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const centre = Cesium.Cartographic.fromCartesian(tileset.boundingSphere.center);
    window.result = {
      splats: tileset.gaussianSplatPrimitive ? tileset.gaussianSplatPrimitive._numSplats : 0,
      latitude: Cesium.Math.toDegrees(centre.latitude), longitude: Cesium.Math.toDegrees(centre.longitude),
      height: centre.height, positions: Array.from(tileset.root.content.positions)};
  } catch (error) { window.result = {error: String(error)}; }
})();
</script></body></html>"""


@pytest.fixture(scope="module")
def cesium_build() -> Path:
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is required to install CesiumJS for the map test")
    build = CESIUM_PREFIX / "node_modules" / "cesium" / "Build" / "Cesium"
    package = CESIUM_PREFIX / "node_modules" / "cesium" / "package.json"
    if not package.is_file() or f'"version": "{CESIUM_VERSION}"' not in package.read_text():
        CESIUM_PREFIX.mkdir(parents=True, exist_ok=True)
        command = [
            npm,
            "install",
            "--no-audit",
            "--no-fund",
            "--prefix",
            str(CESIUM_PREFIX),
            f"cesium@{CESIUM_VERSION}",
        ]
        subprocess.run(command, check=True, capture_output=True, timeout=600)
    return build


@pytest.fixture
def served_tileset(tmp_path: Path, cesium_build: Path) -> Iterator[tuple[str, np.ndarray, list[float]]]:
    splats = synthetic_scene(3000, sh_degree=1, seed=11)
    tile = write_tile_content(splats, tmp_path / "tile.glb")
    tileset = build_tileset(ORIGIN, "tile.glb", tile["centre"], tile["radius_m"])
    (tmp_path / "tileset.json").write_text(json.dumps(tileset))
    (tmp_path / "index.html").write_text(PAGE)
    (tmp_path / "cesium").symlink_to(cesium_build)
    with served(tmp_path) as base:
        yield f"{base}/index.html", splats.means, tile["centre"]


@pytest.mark.slow
def test_cesium_draws_the_tileset_as_splats_where_the_gps_puts_them_right_side_up(browser, served_tileset) -> None:
    url, means, centre = served_tileset
    page = browser.new_page(viewport={"width": 800, "height": 600})
    page.goto(url)
    page.wait_for_function("window.result !== undefined", timeout=180_000)
    result = page.evaluate("window.result")
    page.close()
    assert "error" not in result, result.get("error")
    assert result["splats"] == len(means), "Cesium draws every splat as a Gaussian splat"
    # The bounding sphere's centre: the splats' ENU centre above the GPS origin.
    metres_north = math.radians(result["latitude"] - ORIGIN.latitude) * 6_371_000
    metres_east = math.radians(result["longitude"] - ORIGIN.longitude) * 6_371_000 * math.cos(math.radians(50.82))
    height = result["height"] - ORIGIN.altitude
    assert np.allclose([metres_east, metres_north, height], centre, atol=2.0), (metres_east, metres_north, height)
    # Every splat, in Cesium's east-north-up frame at that centre, where our ENU puts it.
    placed = np.array(result["positions"]).reshape(-1, 3)
    np.testing.assert_allclose(placed, means - np.array(centre), atol=SPZ_BOUNDS["means"] + 0.01)


@pytest.fixture
def cesium_page(tmp_path: Path, cesium_build: Path) -> Iterator[str]:
    """Only the page and CesiumJS, served apart from S3 as any site that embeds CesiumJS."""
    (tmp_path / "index.html").write_text(PAGE)
    (tmp_path / "cesium").symlink_to(cesium_build)
    with served(tmp_path) as base:
        yield f"{base}/index.html"


@pytest.mark.slow
def test_cesium_opens_the_emailed_tileset_link_and_draws_the_splats(
    browser, cesium_page: str, s3_server: tuple[str, Any], tmp_path: Path
) -> None:
    """The email's tileset link, presigned against the embedded runtime's S3 (moto, which answers
    CORS requests from any origin as a bucket with the CORS rule of docs/viewer.md does), loads in
    CesiumJS: the signed copy names ``tile.glb`` by its presigned URL, and Cesium fetches it so."""
    endpoint, s3 = s3_server
    s3.create_bucket(Bucket="emailed-map")
    output = upload_run_output(s3, "emailed-map", "manual__map", write_run_output(tmp_path / "run"))
    names = {
        "sog": "scene.sog",
        "ply": "scene.sog",
        "viewer": VIEWER_FILE_NAME,
        "tileset": TILESET,
        "tile": TILE_CONTENT,
    }
    manifest = {"outputs": {name: output.uri(file) for name, file in names.items()}}
    links = presigned_links(manifest, PipelineSettings(presign_expiry_seconds=600), LinkSigner(s3, None), s3)
    page = browser.new_page(viewport={"width": 800, "height": 600})
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    page.goto(f"{cesium_page}?tileset={quote(links.tileset or '', safe='')}")
    page.wait_for_function("window.result !== undefined", timeout=180_000)
    result = page.evaluate("window.result")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "emailed-tileset-cesium.png"))
    page.close()

    assert "error" not in result, result.get("error")
    assert result["splats"] == 6000, "Cesium draws every splat of the tile"
    tiles = [url for url in requested if url.startswith(endpoint) and f"/{TILE_CONTENT}?" in url]
    signature = parse_qs(urlsplit(links.tile or "").query)["X-Amz-Signature"]
    assert tiles and all(parse_qs(urlsplit(url).query)["X-Amz-Signature"] == signature for url in tiles), (
        "the tile came through its own presigned URL, not the tileset's signature"
    )
    assert any("/signed/tileset.json?" in url for url in requested)
