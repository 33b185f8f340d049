import gzip

import numpy as np
import pytest
from synthetic_scene import synthetic_scene

from splatflow.formats.spz import (
    SPZ_BOUNDS,
    SpzFormatError,
    decode_spz,
    encode_spz,
    fractional_bits,
    read_spz,
    write_spz,
)


def test_a_round_trip_moves_each_value_no_more_than_the_quantisation(tmp_path):
    splats = synthetic_scene(800, sh_degree=3, seed=2)
    size = write_spz(splats, tmp_path / "scene.spz")
    back = read_spz(tmp_path / "scene.spz")
    assert size == (tmp_path / "scene.spz").stat().st_size
    assert (back.count, back.sh_degree) == (800, 3)
    assert np.abs(back.means - splats.means).max() <= SPZ_BOUNDS["means"] + 1e-6
    assert np.abs(back.scales - splats.scales).max() <= SPZ_BOUNDS["scales"] + 1e-6
    assert np.abs(back.sh_dc - splats.sh_dc).max() <= SPZ_BOUNDS["sh_dc"] + 1e-6
    assert np.abs(back.sh_rest[:, 3:] - splats.sh_rest[:, 3:]).max() <= SPZ_BOUNDS["sh_rest_higher"] + 1e-6
    q = splats.quats / np.linalg.norm(splats.quats, axis=1, keepdims=True)
    same_sign = np.sign(np.sum(q * back.quats, axis=1, keepdims=True))
    assert np.abs(back.quats * same_sign - q).max() <= SPZ_BOUNDS["quats"]


def test_far_splats_get_a_coarser_position_step_instead_of_wrapping():
    means = np.array([[5000.0, 0.0, 0.0]], dtype=np.float32)
    assert fractional_bits(means) == 10
    assert fractional_bits(np.zeros((0, 3), dtype=np.float32)) == 12


def test_the_antialiased_flag_travels(tmp_path):
    splats = synthetic_scene(10, sh_degree=0, seed=1)
    splats.antialiased = True
    assert decode_spz(encode_spz(splats)).antialiased


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"not gzip", "not a gzip-compressed .spz"),
        (gzip.compress(b"XXXX" + bytes(12)), "NGSP magic"),
        (gzip.compress(b"NGSP" + (7).to_bytes(4, "little") + bytes(8)), "version 7"),
        (gzip.compress(b"NGSP" + (3).to_bytes(4, "little") + (5).to_bytes(4, "little") + bytes(4)), "cut short"),
    ],
    ids=["not-gzip", "bad-magic", "bad-version", "truncated"],
)
def test_a_broken_file_is_refused_naming_the_problem(data, problem):
    with pytest.raises(SpzFormatError, match=problem):
        decode_spz(data)
