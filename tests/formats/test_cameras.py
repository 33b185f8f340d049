"""``cameras.json``: the held-out views and, when known, the scene's up."""

from __future__ import annotations

import json

import numpy as np
import pytest

from splatflow.formats.cameras import CamerasFormatError, camera_from_matrices, read_cameras, read_up, write_cameras


def camera():
    return camera_from_matrices("DJI_0022.JPG", 320, 180, [[300, 0, 160], [0, 300, 90], [0, 0, 1]], np.eye(4))


def test_up_is_written_beside_the_cameras_and_read_back_as_a_unit_vector(tmp_path):
    write_cameras([camera()], tmp_path / "cameras.json", up=[0.0, 0.0, 2.0])

    assert read_cameras(tmp_path / "cameras.json") == [camera()]
    np.testing.assert_array_equal(read_up(tmp_path / "cameras.json"), [0.0, 0.0, 1.0])


def test_a_file_without_up_reads_as_unknown(tmp_path):
    write_cameras([camera()], tmp_path / "cameras.json")
    assert read_up(tmp_path / "cameras.json") is None


@pytest.mark.parametrize("up", [[0, 0, 0], [1, 2], "north", [1, float("nan"), 0]])
def test_a_bad_up_is_a_format_error_naming_it(tmp_path, up):
    path = tmp_path / "cameras.json"
    path.write_text(json.dumps({"version": 1, "cameras": [], "up": up}), encoding="utf-8")
    with pytest.raises(CamerasFormatError, match="up"):
        read_up(path)
