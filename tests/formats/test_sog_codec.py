"""Per-attribute SOG quantisation: each mapping decodes within its stated error."""

from __future__ import annotations

import numpy as np
import pytest
from sog_error_bounds import QUAT_COMPONENT_ERROR, canonical_quats, means_error_bound

from splatflow.formats.sog_codec import (
    decode_means,
    decode_opacities,
    decode_quats,
    encode_means,
    encode_opacities,
    encode_quats,
    quantise,
    texture_size,
)


@pytest.mark.parametrize(
    ("count", "expected"),
    [
        (1, (4, 4)),
        (16, (4, 4)),
        (17, (8, 4)),
        (1000, (32, 32)),
        (1_000_000, (1000, 1000)),
        (12345, (112, 112)),
    ],
)
def test_texture_size_is_a_multiple_of_four_holding_every_splat(count, expected):
    width, height = texture_size(count)
    assert (width, height) == expected
    assert width * height >= count


def test_means_decode_within_half_a_16_bit_step_in_log_space():
    rng = np.random.default_rng(1)
    means = np.concatenate([rng.normal(0, 3, (5000, 3)), rng.normal(0, 300, (100, 3))]).astype(np.float32)
    q, lo, hi = encode_means(means)
    decoded = decode_means(q, lo, hi)
    error = np.abs(decoded.astype(np.float64) - means)
    assert np.all(error <= means_error_bound(means, lo, hi))
    # The extremes of each axis are hit exactly (they define the range).
    assert q.min(axis=0).tolist() == [0, 0, 0] and q.max(axis=0).tolist() == [65535] * 3


def test_means_of_a_flat_axis_decode_to_that_value():
    means = np.array([[1.5, -2.0, 0.0], [1.5, 3.0, 0.0]], np.float32)
    q, lo, hi = encode_means(means)
    np.testing.assert_allclose(decode_means(q, lo, hi), means, atol=1e-4)


def test_quats_decode_to_the_normalised_input_up_to_sign():
    rng = np.random.default_rng(2)
    quats = rng.normal(size=(10000, 4)).astype(np.float32) * 3
    decoded = decode_quats(encode_quats(quats))
    np.testing.assert_allclose(np.linalg.norm(decoded, axis=1), 1.0, atol=1e-6)
    # Three stored components err by at most a half step; the rebuilt one inherits their error.
    assert np.abs(decoded - canonical_quats(quats)).max() <= 3 * QUAT_COMPONENT_ERROR


def test_zero_quaternion_is_stored_as_identity():
    packed = encode_quats(np.zeros((1, 4), np.float32))
    np.testing.assert_allclose(decode_quats(packed), [[1, 0, 0, 0]], atol=QUAT_COMPONENT_ERROR + 1e-6)


def test_invalid_quat_tag_decodes_to_identity_as_the_reference_does():
    packed = np.array([[10, 200, 30, 17]], np.uint8)
    np.testing.assert_array_equal(decode_quats(packed), [[1, 0, 0, 0]])


def test_opacity_bytes_survive_a_decode_encode_cycle():
    every_byte = np.arange(256, dtype=np.uint8)
    np.testing.assert_array_equal(encode_opacities(decode_opacities(every_byte)), every_byte)


def test_opacity_decodes_within_half_a_byte_of_alpha():
    logits = np.linspace(-8, 8, 1001).astype(np.float32)
    alpha = 1 / (1 + np.exp(-logits.astype(np.float64)))
    decoded = 1 / (1 + np.exp(-decode_opacities(encode_opacities(logits)).astype(np.float64)))
    assert np.abs(decoded - alpha).max() <= 0.5 / 255 + 1e-6


def test_quantise_picks_the_nearest_codebook_entry():
    rng = np.random.default_rng(3)
    codebook = np.sort(rng.normal(size=256)).astype(np.float32)
    values = rng.normal(scale=1.5, size=4000).astype(np.float32)
    labels = quantise(values, codebook)
    brute = np.argmin(np.abs(values[:, None].astype(np.float64) - codebook[None, :]), axis=1)
    np.testing.assert_allclose(np.abs(codebook[labels] - values), np.abs(codebook[brute] - values), rtol=0, atol=1e-7)
