"""Our ``.spz`` and ``.glb`` against ``@playcanvas/splat-transform`` 3.10.2, the independent reader.

The ``.spz`` is read back by the reference (converted to ``.ply``): same splat count and SH degree,
every value equal to our own decoding, and every value within the format's quantisation
(``SPZ_BOUNDS``) of the splats we wrote. splat-transform 3.10.2 writes ``.glb`` but does not read it
(its ``--help`` lists ``.glb`` among outputs only), so our ``.glb`` is held to the one it writes from
the same ``.ply``: the same attributes, with equal values once its frame is accounted for (it turns
a ``.ply`` half a turn about z into its own space; ours leaves the values alone and says so in the
node's matrix).
"""

from __future__ import annotations

import numpy as np
import pytest
from splat_transform_cli import REPO_ROOT, convert, splat_transform_command
from synthetic_scene import synthetic_scene

from splatflow.formats.glb import read_glb, read_glb_document, write_glb
from splatflow.formats.ply import read_ply, write_ply
from splatflow.formats.spz import SPZ_BOUNDS, read_spz, write_spz
from splatflow.stages.compress.orientation import quaternion_product

VERSION = "3.10.2"
NODE_PREFIX = REPO_ROOT / ".local" / f"node-splat-transform-{VERSION}"
FLOAT_SLACK = 1e-6


@pytest.fixture(scope="session")
def splat_transform() -> list[str]:
    return splat_transform_command(VERSION, NODE_PREFIX)


def _unit_positive_w(quats: np.ndarray) -> np.ndarray:
    q = quats / np.linalg.norm(quats, axis=1, keepdims=True)
    return q * np.where(q[:, :1] < 0, -1.0, 1.0)


@pytest.mark.slow
@pytest.mark.parametrize("degree", [0, 3])
def test_the_reference_reads_our_spz_within_its_quantisation(tmp_path, splat_transform, degree):
    splats = synthetic_scene(1500, sh_degree=degree, seed=7)
    write_spz(splats, tmp_path / "ours.spz")
    convert(splat_transform, tmp_path / "ours.spz", tmp_path / "theirs.ply")
    theirs, ours = read_ply(tmp_path / "theirs.ply"), read_spz(tmp_path / "ours.spz")
    assert (theirs.count, theirs.sh_degree) == (ours.count, ours.sh_degree) == (1500, degree)
    for name in ("means", "scales", "opacities", "sh_dc", "sh_rest"):
        np.testing.assert_allclose(getattr(theirs, name), getattr(ours, name), rtol=0, atol=1e-5, err_msg=name)
    np.testing.assert_allclose(_unit_positive_w(theirs.quats), _unit_positive_w(ours.quats), rtol=0, atol=1e-6)
    # Against what we wrote: each attribute within the bound the format's quantisation allows.
    assert np.abs(theirs.means - splats.means).max() <= SPZ_BOUNDS["means"] + FLOAT_SLACK
    assert np.abs(theirs.scales - splats.scales).max() <= SPZ_BOUNDS["scales"] + FLOAT_SLACK
    alpha = 1 / (1 + np.exp(-splats.opacities.astype(np.float64)))
    read_alpha = 1 / (1 + np.exp(-theirs.opacities.astype(np.float64)))
    assert np.abs(read_alpha - alpha).max() <= SPZ_BOUNDS["opacity"] + FLOAT_SLACK
    assert np.abs(theirs.sh_dc - splats.sh_dc).max() <= SPZ_BOUNDS["sh_dc"] + FLOAT_SLACK
    q = splats.quats / np.linalg.norm(splats.quats, axis=1, keepdims=True)
    read = theirs.quats * np.sign(np.sum(q * theirs.quats, axis=1, keepdims=True))
    assert np.abs(read - q).max() <= SPZ_BOUNDS["quats"]
    if degree:
        assert (
            np.abs(theirs.sh_rest[:, :3] - splats.sh_rest[:, :3]).max() <= SPZ_BOUNDS["sh_rest_degree_1"] + FLOAT_SLACK
        )
        assert np.abs(theirs.sh_rest[:, 3:] - splats.sh_rest[:, 3:]).max() <= SPZ_BOUNDS["sh_rest_higher"] + FLOAT_SLACK


@pytest.mark.slow
def test_our_glb_holds_what_the_reference_writes_for_the_same_splats(tmp_path, splat_transform):
    splats = synthetic_scene(1500, sh_degree=3, seed=8)
    write_ply(splats, tmp_path / "scene.ply")
    convert(splat_transform, tmp_path / "scene.ply", tmp_path / "theirs.glb")
    write_glb(splats, tmp_path / "ours.glb")
    their_document, _ = read_glb_document((tmp_path / "theirs.glb").read_bytes())
    our_document, _ = read_glb_document((tmp_path / "ours.glb").read_bytes())
    their_primitive, our_primitive = (d["meshes"][0]["primitives"][0] for d in (their_document, our_document))
    assert set(their_primitive["attributes"]) == set(our_primitive["attributes"])
    assert their_primitive["mode"] == our_primitive["mode"] == 0
    assert their_primitive["extensions"] == our_primitive["extensions"]
    theirs, ours = read_glb(tmp_path / "theirs.glb"), read_glb(tmp_path / "ours.glb")
    assert theirs.count == ours.count == 1500
    half_turn = np.array([-1.0, -1.0, 1.0], dtype=np.float32)
    np.testing.assert_allclose(theirs.means, ours.means * half_turn, rtol=0, atol=1e-6)
    about_z = np.tile(np.array([0.0, 0.0, 0.0, 1.0]), (ours.count, 1))
    turned = quaternion_product(about_z, ours.quats.astype(np.float64))
    np.testing.assert_allclose(_unit_positive_w(theirs.quats), _unit_positive_w(turned), rtol=0, atol=1e-6)
    for name in ("scales", "opacities", "sh_dc"):
        np.testing.assert_allclose(getattr(theirs, name), getattr(ours, name), rtol=0, atol=1e-5, err_msg=name)
    # A half turn about z flips the sign of every SH basis function of odd order m.
    sign = np.array([(-1.0) ** m for band in (1, 2, 3) for m in range(-band, band + 1)])[None, :, None]
    np.testing.assert_allclose(theirs.sh_rest, ours.sh_rest * sign, rtol=0, atol=1e-6)
