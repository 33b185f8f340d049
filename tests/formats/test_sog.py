"""SOG v2 bundles: what we write reads back bit for bit, in the reference's layout."""

from __future__ import annotations

import dataclasses
import io
import json
import zipfile

import numpy as np
import pytest
from PIL import Image

from splatflow.formats.ply import sh_rest_count
from splatflow.formats.sog import SogFormatError, read_encoded_sog, read_sog, write_sog
from splatflow.formats.sog_codec import EncodedSplats, ShPalette, decode, texture_size


def random_encoded(count: int, degree: int, palette_size: int = 70, seed: int = 0) -> EncodedSplats:
    rng = np.random.default_rng(seed)

    def bytes_(*shape: int) -> np.ndarray:
        return rng.integers(0, 256, shape, dtype=np.uint8)

    quats = bytes_(count, 4)
    quats[:, 3] = 252 + rng.integers(0, 4, count)
    palette = None
    if degree:
        palette = ShPalette(
            labels=rng.integers(0, palette_size, count).astype(np.uint16),
            centroid_labels=bytes_(palette_size, sh_rest_count(degree), 3),
            codebook=np.sort(rng.normal(size=256)).astype(np.float32),
        )
    return EncodedSplats(
        means_q=rng.integers(0, 65536, (count, 3)).astype(np.uint16),
        means_min=rng.normal(size=3) - 5,
        means_max=rng.normal(size=3) + 5,
        quats_packed=quats,
        scale_labels=bytes_(count, 3),
        scale_codebook=np.sort(rng.normal(size=256)).astype(np.float32),
        sh0_labels=bytes_(count, 3),
        sh0_codebook=np.sort(rng.normal(size=256)).astype(np.float32),
        opacity_bytes=bytes_(count),
        sh_palette=palette,
    )


def assert_same_encoding(actual: EncodedSplats, expected: EncodedSplats) -> None:
    for name in ("means_q", "quats_packed", "scale_labels", "sh0_labels", "opacity_bytes"):
        np.testing.assert_array_equal(getattr(actual, name), getattr(expected, name), err_msg=name)
    for name in ("means_min", "means_max", "scale_codebook", "sh0_codebook"):
        np.testing.assert_array_equal(getattr(actual, name), getattr(expected, name), err_msg=name)
    assert (actual.sh_palette is None) == (expected.sh_palette is None)
    if actual.sh_palette is not None and expected.sh_palette is not None:
        np.testing.assert_array_equal(actual.sh_palette.labels, expected.sh_palette.labels)
        np.testing.assert_array_equal(actual.sh_palette.centroid_labels, expected.sh_palette.centroid_labels)
        np.testing.assert_array_equal(actual.sh_palette.codebook, expected.sh_palette.codebook)


@pytest.mark.parametrize(("count", "degree"), [(1, 0), (1, 3), (999, 1), (1237, 2), (2501, 3)])
def test_bundle_reads_back_exactly_what_was_written(tmp_path, count, degree):
    encoded = random_encoded(count, degree)
    write_sog(encoded, tmp_path / "scene.sog")
    assert_same_encoding(read_encoded_sog(tmp_path / "scene.sog"), encoded)


def test_read_sog_returns_the_decoded_splats(tmp_path):
    encoded = random_encoded(300, 3)
    write_sog(encoded, tmp_path / "scene.sog")
    splats, expected = read_sog(tmp_path / "scene.sog"), decode(encoded)
    assert splats.count == 300 and splats.sh_degree == 3
    np.testing.assert_array_equal(splats.sh_rest, expected.sh_rest)
    np.testing.assert_array_equal(splats.means, expected.means)


def test_bundle_layout_matches_the_reference_writer(tmp_path):
    encoded = random_encoded(1237, 2, palette_size=130)
    sizes = write_sog(encoded, tmp_path / "scene.sog")
    with zipfile.ZipFile(tmp_path / "scene.sog") as bundle:
        assert all(info.compress_type == zipfile.ZIP_STORED for info in bundle.infolist())
        meta = json.loads(bundle.read("meta.json"))
        images = {name: Image.open(io.BytesIO(bundle.read(name))) for name in bundle.namelist() if name != "meta.json"}
        assert sizes == {info.filename: info.file_size for info in bundle.infolist()}
    assert meta["version"] == 2 and meta["count"] == 1237
    assert meta["means"]["files"] == ["means_l.webp", "means_u.webp"]
    assert meta["shN"] == {
        "count": 130,
        "bands": 2,
        "codebook": meta["shN"]["codebook"],
        "files": ["shN_centroids.webp", "shN_labels.webp"],
    }
    assert len(meta["scales"]["codebook"]) == len(meta["sh0"]["codebook"]) == 256
    width, height = texture_size(1237)
    for name, image in images.items():
        assert image.format == "WEBP"
        expected = (64 * 8, 3) if name == "shN_centroids.webp" else (width, height)
        assert image.size == expected, name


def test_degree_zero_bundle_has_no_sh_section(tmp_path):
    write_sog(random_encoded(50, 0), tmp_path / "scene.sog")
    with zipfile.ZipFile(tmp_path / "scene.sog") as bundle:
        assert "shN" not in json.loads(bundle.read("meta.json"))
        assert not any(name.startswith("shN") for name in bundle.namelist())


def test_colour_labels_of_fully_transparent_splats_survive(tmp_path):
    encoded = random_encoded(64, 0)
    encoded.opacity_bytes[:] = 0
    write_sog(encoded, tmp_path / "scene.sog")
    np.testing.assert_array_equal(read_encoded_sog(tmp_path / "scene.sog").sh0_labels, encoded.sh0_labels)


def rewrite(path, replace: dict[str, bytes | None]) -> None:
    with zipfile.ZipFile(path) as bundle:
        entries = {name: bundle.read(name) for name in bundle.namelist()}
    for name, payload in replace.items():
        if payload is None:
            del entries[name]
        else:
            entries[name] = payload
    with zipfile.ZipFile(path, "w") as bundle:
        for name, payload in entries.items():
            bundle.writestr(name, payload)


def meta_with(path, **changes) -> bytes:
    with zipfile.ZipFile(path) as bundle:
        meta = json.loads(bundle.read("meta.json"))
    meta.update(changes)
    return json.dumps(meta).encode()


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda p: {"meta.json": None}, "no meta.json"),
        (lambda p: {"meta.json": b"{not json"}, "not valid JSON"),
        (lambda p: {"meta.json": meta_with(p, version=1)}, "not SOG version 2"),
        (lambda p: {"meta.json": meta_with(p, count=10_000)}, "fewer than 10000"),
        (lambda p: {"quats.webp": None}, "lacks the quats texture"),
        (lambda p: {"sh0.webp": b"RIFF0000WEBPjunk"}, "sh0.webp is not a readable WebP"),
        (
            lambda p: {
                "meta.json": meta_with(
                    p,
                    shN={
                        "count": 5,
                        "bands": 1,
                        "codebook": [0] * 256,
                        "files": ["shN_centroids.webp", "shN_labels.webp"],
                    },
                )
            },
            "past the 5-entry palette",
        ),
    ],
)
def test_damaged_bundle_fails_with_a_reason(tmp_path, damage, message):
    path = tmp_path / "scene.sog"
    write_sog(random_encoded(200, 1, palette_size=70), path)
    rewrite(path, damage(path))
    with pytest.raises(SogFormatError, match=message):
        read_encoded_sog(path)


def test_a_file_that_is_not_a_zip_fails_with_a_reason(tmp_path):
    (tmp_path / "scene.sog").write_bytes(b"ply\nformat binary")
    with pytest.raises(SogFormatError, match="not a ZIP bundle"):
        read_encoded_sog(tmp_path / "scene.sog")


def test_an_empty_scene_is_refused(tmp_path):
    with pytest.raises(SogFormatError, match="at least one splat"):
        write_sog(random_encoded(0, 0), tmp_path / "scene.sog")


def test_the_antialias_flag_and_extras_travel_in_meta_json(tmp_path):
    encoded = dataclasses.replace(random_encoded(50, 0), antialiased=True)
    extras = {"up": [0.0, 0.0, 1.0], "view": {"position": [1.0, 2.0, 3.0]}}
    write_sog(encoded, tmp_path / "scene.sog", extras=extras)

    with zipfile.ZipFile(tmp_path / "scene.sog") as bundle:
        meta = json.loads(bundle.read("meta.json"))
    assert meta["antialias"] is True, "the field SOG readers take as Mip-Splatting's compensation"
    assert meta["extras"] == extras
    assert read_encoded_sog(tmp_path / "scene.sog").antialiased
    assert read_sog(tmp_path / "scene.sog").antialiased

    write_sog(random_encoded(50, 0), tmp_path / "classic.sog")
    with zipfile.ZipFile(tmp_path / "classic.sog") as bundle:
        meta = json.loads(bundle.read("meta.json"))
    assert meta["antialias"] is False and "extras" not in meta
    assert not read_sog(tmp_path / "classic.sog").antialiased
