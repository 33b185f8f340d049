import numpy as np
import pytest
from synthetic_scene import synthetic_scene

from splatflow.formats.glb import (
    EXTENSION,
    SPZ_EXTENSION,
    GlbFormatError,
    decode_glb,
    encode_spz_glb,
    read_glb_document,
    write_glb,
)
from splatflow.formats.spz import decode_spz, encode_spz


def test_a_round_trip_keeps_every_value_to_float_precision(tmp_path):
    splats = synthetic_scene(500, sh_degree=2, seed=3)
    write_glb(splats, tmp_path / "scene.glb")
    back = decode_glb((tmp_path / "scene.glb").read_bytes())
    assert (back.count, back.sh_degree) == (500, 2)
    for name in ("means", "sh_dc", "sh_rest"):
        np.testing.assert_array_equal(getattr(back, name), getattr(splats, name), err_msg=name)
    np.testing.assert_allclose(back.scales, splats.scales, atol=1e-5)
    np.testing.assert_allclose(back.opacities, splats.opacities, atol=1e-3)


def test_the_node_turns_the_z_up_data_into_gltf_y_up(tmp_path):
    document, _ = read_glb_document(write_glb_bytes(tmp_path))
    matrix = np.array(document["nodes"][0]["matrix"]).reshape(4, 4).T
    east, north, up = np.eye(4)[:, 0], np.eye(4)[:, 1], np.eye(4)[:, 2]
    np.testing.assert_array_equal(matrix @ up, [0, 1, 0, 0])
    np.testing.assert_array_equal(matrix @ north, [0, 0, -1, 0])
    np.testing.assert_array_equal(matrix @ east, [1, 0, 0, 0])


def write_glb_bytes(tmp_path):
    write_glb(synthetic_scene(20, sh_degree=0, seed=4), tmp_path / "scene.glb")
    return (tmp_path / "scene.glb").read_bytes()


def test_the_spz_content_carries_the_spz_bytes_and_requires_both_extensions():
    splats = synthetic_scene(300, sh_degree=1, seed=5)
    document, binary = read_glb_document(encode_spz_glb(splats))
    assert document["extensionsRequired"] == [EXTENSION, SPZ_EXTENSION]
    primitive = document["meshes"][0]["primitives"][0]
    view = document["bufferViews"][primitive["extensions"][EXTENSION]["extensions"][SPZ_EXTENSION]["bufferView"]]
    assert binary[: view["byteLength"]] == encode_spz(splats)
    assert document["accessors"][primitive["attributes"]["POSITION"]]["count"] == 300
    assert decode_spz(binary[: view["byteLength"]]).count == 300


def test_a_file_that_is_not_glb_is_refused():
    with pytest.raises(GlbFormatError, match="glTF magic"):
        decode_glb(b"PLY but not really a glb file")
