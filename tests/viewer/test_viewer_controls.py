"""The viewer's controls in a real browser: mouse, touch and keys move the camera."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from splatflow.viewer import VIEWER_FILE_NAME, viewer_link, viewer_page

pytestmark = pytest.mark.slow

CAMERA = """() => {
    const view = window.splatViewer.camera;
    const p = view.orbit.pivotPoint;
    return {yaw: view.orbit.yaw, pitch: view.orbit.pitch, distance: view.orbit.distance, pivot: [p.x, p.y, p.z]};
}"""


@pytest.fixture
def viewer(browser: Any, scene_sog: Path, static_site: tuple[str, Path]) -> Any:
    base, folder = static_site
    (folder / VIEWER_FILE_NAME).write_text(viewer_page({"run_id": "controls"}), encoding="utf-8")
    (folder / "scene.sog").write_bytes(scene_sog.read_bytes())
    context = browser.new_context(viewport={"width": 480, "height": 360}, has_touch=True)
    page = context.new_page()
    page.goto(viewer_link(f"{base}/{VIEWER_FILE_NAME}", "scene.sog"))
    page.wait_for_function("document.body.dataset.state === 'ready'", timeout=60_000)
    page.evaluate("document.getElementById('panel').hidden = true")
    yield page
    context.close()


def settle(page: Any) -> dict[str, Any]:
    """The camera once its inertia has run out."""
    page.wait_for_timeout(600)
    camera: dict[str, Any] = page.evaluate(CAMERA)
    return camera


def test_dragging_the_mouse_orbits_and_the_wheel_zooms(viewer: Any) -> None:
    before = settle(viewer)
    viewer.mouse.move(240, 180)
    viewer.mouse.down()
    viewer.mouse.move(340, 150, steps=8)
    viewer.mouse.up()
    for _ in range(6):
        viewer.mouse.wheel(0, 100)
    after = settle(viewer)

    assert abs(after["yaw"] - before["yaw"]) > 10
    assert after["distance"] > before["distance"] * 1.05


def test_a_one_finger_drag_orbits_and_a_pinch_zooms(viewer: Any) -> None:
    touch = viewer.context.new_cdp_session(viewer)

    def fingers(kind: str, *points: tuple[int, int]) -> None:
        touch.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [{"x": x, "y": y} for x, y in points]})

    before = settle(viewer)
    fingers("touchStart", (240, 180))
    for step in range(1, 9):
        fingers("touchMove", (240 + 12 * step, 180))
    fingers("touchEnd")
    orbited = settle(viewer)
    fingers("touchStart", (200, 180), (280, 180))
    for step in range(1, 9):
        fingers("touchMove", (200 - 10 * step, 180), (280 + 10 * step, 180))
    fingers("touchEnd")
    pinched = settle(viewer)

    assert abs(orbited["yaw"] - before["yaw"]) > 10
    assert pinched["distance"] < orbited["distance"] * 0.95


def test_keys_fly_the_camera_forward(viewer: Any) -> None:
    before = settle(viewer)
    viewer.keyboard.down("w")
    viewer.wait_for_timeout(500)
    viewer.keyboard.up("w")
    after = settle(viewer)

    moved = sum((a - b) ** 2 for a, b in zip(after["pivot"], before["pivot"], strict=True)) ** 0.5
    assert moved > 0.05 * before["distance"]
    assert after["yaw"] == pytest.approx(before["yaw"])


def test_figures_start_folded_on_a_phone_and_open_on_a_tap(
    browser: Any, scene_sog: Path, static_site: tuple[str, Path]
) -> None:
    base, folder = static_site
    (folder / VIEWER_FILE_NAME).write_text(viewer_page({"run_id": "phone"}), encoding="utf-8")
    (folder / "scene.sog").write_bytes(scene_sog.read_bytes())
    context = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    page = context.new_page()
    page.goto(viewer_link(f"{base}/{VIEWER_FILE_NAME}", "scene.sog"))
    page.wait_for_function("document.body.dataset.state === 'ready'", timeout=60_000)

    assert page.evaluate("document.getElementById('panel').open") is False
    page.tap("#panel summary")
    assert page.evaluate("document.getElementById('panel').open") is True
    context.close()
