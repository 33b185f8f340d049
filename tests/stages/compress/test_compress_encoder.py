"""Encoding splats: decoded values within the stated quantisation error, nothing lost or added."""

from __future__ import annotations

import numpy as np
import pytest
from sog_error_bounds import QUAT_COMPONENT_ERROR, canonical_quats, means_error_bound
from synthetic_scene import synthetic_scene

from splatflow.formats.sog import read_sog, write_sog
from splatflow.formats.sog_codec import decode
from splatflow.stages.compress.encoder import (
    EncoderOptions,
    default_palette_size,
    encode_splats,
    reference_palette_size,
    reordered,
)


def nearest_entry_error(values: np.ndarray, codebook: np.ndarray) -> np.ndarray:
    return np.abs(values[..., None].astype(np.float64) - codebook).min(axis=-1)


def assert_within_quantisation_error(original, encoding, decoded) -> None:
    ordered = encoding.splats
    np.testing.assert_array_equal(ordered.means, reordered(original, encoding.order).means)
    encoded = encoding.encoded
    assert decoded.count == original.count and decoded.sh_degree == original.sh_degree
    assert np.all(
        np.abs(decoded.means - ordered.means) <= means_error_bound(ordered.means, encoded.means_min, encoded.means_max)
    )
    assert np.abs(decoded.quats - canonical_quats(ordered.quats)).max() <= 3 * QUAT_COMPONENT_ERROR + 1e-6
    alpha = 1 / (1 + np.exp(-ordered.opacities.astype(np.float64)))
    decoded_alpha = 1 / (1 + np.exp(-decoded.opacities.astype(np.float64)))
    assert np.abs(decoded_alpha - alpha).max() <= 0.5 / 255 + 1e-6
    # Codebook attributes land on the nearest of their 256 entries.
    for name, codebook in (("scales", encoded.scale_codebook), ("sh_dc", encoded.sh0_codebook)):
        error = np.abs(getattr(decoded, name).astype(np.float64) - getattr(ordered, name))
        np.testing.assert_allclose(error, nearest_entry_error(getattr(ordered, name), codebook), atol=1e-6)


@pytest.mark.parametrize(("count", "degree"), [(1, 0), (1, 3), (1237, 0), (1237, 1), (2049, 2), (3001, 3)])
@pytest.mark.parametrize("order", ["morton", "sorted"])
def test_random_splats_round_trip_within_quantisation_error(tmp_path, make_random_splats, count, degree, order):
    splats = make_random_splats(count, degree, seed=count + degree)
    encoding = encode_splats(splats, EncoderOptions(texel_order=order))
    write_sog(encoding.encoded, tmp_path / "scene.sog")
    decoded = read_sog(tmp_path / "scene.sog")
    assert sorted(encoding.order.tolist()) == list(range(count))
    assert_within_quantisation_error(splats, encoding, decoded)


def test_structured_scene_round_trips_with_small_errors(tmp_path, scene_sh3):
    encoding = encode_splats(scene_sh3)
    write_sog(encoding.encoded, tmp_path / "scene.sog")
    decoded = read_sog(tmp_path / "scene.sog")
    assert_within_quantisation_error(scene_sh3, encoding, decoded)
    ordered = encoding.splats
    # The SH palette (1024 entries for 3000 splats) keeps the view-dependent colour close.
    sh_error = np.sqrt(np.mean((decoded.sh_rest - ordered.sh_rest) ** 2))
    assert sh_error < 0.25 * np.sqrt(np.mean(ordered.sh_rest**2))


def test_palette_defaults_to_about_one_entry_per_16_splats(scene_sh3):
    palette = encode_splats(scene_sh3).encoded.sh_palette
    assert palette is not None
    assert palette.size == default_palette_size(3000) == 1024
    assert palette.bands == 3 and int(palette.labels.max()) < palette.size


def test_reference_palette_size_follows_the_splat_count():
    assert [reference_palette_size(n) for n in (1, 100, 1024, 5000, 100_000, 5_000_000)] == [
        1,
        64,
        1024,
        4096,
        65536,
        65536,
    ]


def test_default_palette_size_is_a_power_of_two_under_the_reference_size():
    counts = (1, 100, 1024, 5000, 65_322, 100_000, 300_000, 1_000_000, 5_000_000)
    sizes = [default_palette_size(n) for n in counts]
    assert sizes == [1, 64, 1024, 1024, 2048, 4096, 16384, 32768, 65536]
    assert all(size <= reference_palette_size(n) for size, n in zip(sizes, counts, strict=True))


def test_smaller_palette_is_coarser(scene_sh3):
    def sh_error(size: int) -> float:
        encoding = encode_splats(scene_sh3, EncoderOptions(sh_palette_size=size))
        decoded = decode(encoding.encoded)
        return float(np.mean((decoded.sh_rest - encoding.splats.sh_rest) ** 2))

    assert sh_error(64) > sh_error(1024)


def test_encoding_is_deterministic_for_a_seed():
    splats = synthetic_scene(1500, sh_degree=1, seed=3)
    first, second = encode_splats(splats), encode_splats(splats)
    np.testing.assert_array_equal(first.order, second.order)
    assert first.encoded.sh_palette is not None and second.encoded.sh_palette is not None
    np.testing.assert_array_equal(first.encoded.sh_palette.labels, second.encoded.sh_palette.labels)


def test_encoded_splats_are_the_input_gaussians_in_canonical_orientation(make_random_splats, covariances):
    splats = make_random_splats(2000, 1, seed=5)
    encoding = encode_splats(splats)
    ordered = reordered(splats, encoding.order)
    np.testing.assert_allclose(
        covariances(encoding.splats.scales, encoding.splats.quats),
        covariances(ordered.scales, ordered.quats),
        rtol=1e-4,
        atol=1e-6,
    )
    for name in ("means", "opacities", "sh_dc", "sh_rest"):
        np.testing.assert_array_equal(getattr(encoding.splats, name), getattr(ordered, name))
    # Every quaternion drops w: the tag byte is one value for the whole texture.
    assert set(encoding.encoded.quats_packed[:, 3].tolist()) == {252}
