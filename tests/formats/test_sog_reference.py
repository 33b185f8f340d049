"""Cross-check with the reference implementation, ``@playcanvas/splat-transform`` 3.7.0.

Our bundle converted to ``.ply`` by the reference must equal our own decoding; a bundle the
reference writes from a ``.ply`` must decode, with our reader, to what the reference decodes
and close to the original splats. The tool is installed from the npm registry into
``.local/node`` once (Node 20 runs it) and the scenes are small: its k-means is slow on CPU.
"""

from __future__ import annotations

import numpy as np
import pytest
from splat_transform_cli import REPO_ROOT, convert, splat_transform_command
from synthetic_scene import synthetic_scene

from splatflow.formats.ply import read_ply, write_ply
from splatflow.formats.sog import read_sog, write_sog
from splatflow.stages.compress.encoder import encode_splats

VERSION = "3.7.0"
NODE_PREFIX = REPO_ROOT / ".local" / "node"
ATTRIBUTES = ("means", "scales", "quats", "opacities", "sh_dc", "sh_rest")


@pytest.fixture(scope="session")
def splat_transform() -> list[str]:
    """The reference CLI as a command prefix, installed on first use."""
    return splat_transform_command(VERSION, NODE_PREFIX)


@pytest.mark.slow
@pytest.mark.parametrize("degree", [0, 3])
def test_reference_decodes_our_bundle_exactly_as_we_do(tmp_path, splat_transform, degree):
    splats = synthetic_scene(1500, sh_degree=degree, seed=5)
    write_sog(encode_splats(splats).encoded, tmp_path / "ours.sog")
    convert(splat_transform, tmp_path / "ours.sog", tmp_path / "decoded.ply")
    theirs, ours = read_ply(tmp_path / "decoded.ply"), read_sog(tmp_path / "ours.sog")
    assert (theirs.count, theirs.sh_degree) == (ours.count, ours.sh_degree) == (1500, degree)
    for name in ATTRIBUTES:
        np.testing.assert_allclose(getattr(theirs, name), getattr(ours, name), rtol=0, atol=1e-6, err_msg=name)


@pytest.mark.slow
def test_we_decode_the_reference_bundle_as_it_does(tmp_path, splat_transform):
    splats = synthetic_scene(1500, sh_degree=3, seed=6)
    write_ply(splats, tmp_path / "scene.ply")
    convert(splat_transform, tmp_path / "scene.ply", tmp_path / "reference.sog")
    convert(splat_transform, tmp_path / "reference.sog", tmp_path / "reference_decoded.ply")
    ours, theirs = read_sog(tmp_path / "reference.sog"), read_ply(tmp_path / "reference_decoded.ply")
    assert (ours.count, ours.sh_degree) == (1500, 3)
    for name in ATTRIBUTES:
        np.testing.assert_allclose(getattr(ours, name), getattr(theirs, name), rtol=0, atol=1e-6, err_msg=name)
    # The reference reorders splats; each decoded position lies next to an original one.
    distance = np.linalg.norm(ours.means[:, None, :] - splats.means[None, :, :], axis=-1).min(axis=1)
    assert distance.max() < 0.01
