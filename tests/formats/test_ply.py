"""The 3DGS ``.ply``: how a model was trained to be drawn travels with it."""

from __future__ import annotations

import dataclasses

import numpy as np
from plyfile import PlyData

from splatflow.formats.ply import ANTIALIASED_COMMENT, Splats, read_ply, write_ply


def splats(count: int = 20) -> Splats:
    rng = np.random.default_rng(0)
    return Splats(
        means=rng.normal(size=(count, 3)).astype(np.float32),
        scales=rng.normal(-3, 1, size=(count, 3)).astype(np.float32),
        quats=rng.normal(size=(count, 4)).astype(np.float32),
        opacities=rng.normal(size=count).astype(np.float32),
        sh_dc=rng.normal(size=(count, 3)).astype(np.float32),
        sh_rest=np.zeros((count, 0, 3), np.float32),
    )


def test_an_antialiased_model_says_so_in_its_header_and_reads_back_so(tmp_path):
    write_ply(dataclasses.replace(splats(), antialiased=True), tmp_path / "aa.ply")
    write_ply(splats(), tmp_path / "classic.ply")

    assert PlyData.read(str(tmp_path / "aa.ply")).comments == [ANTIALIASED_COMMENT]
    assert read_ply(tmp_path / "aa.ply").antialiased
    assert PlyData.read(str(tmp_path / "classic.ply")).comments == []
    assert not read_ply(tmp_path / "classic.ply").antialiased
    np.testing.assert_array_equal(read_ply(tmp_path / "aa.ply").means, splats().means)
