"""The signed copies of the bundle's and the tileset's indexes: every name they hold becomes the
absolute presigned URL of a file of the run's output, none is left relative or unsigned, and an
index naming anything outside its own folder is refused."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import boto3
import pytest
from botocore.config import Config
from botocore.credentials import Credentials
from moto import mock_aws
from signed_run_output import RunOutput, upload_run_output, write_run_output

from splatflow.contract.outputs import LOD_META, TILE_CONTENT, TILESET
from splatflow.pipeline.emails.composition import presigned_links
from splatflow.pipeline.link_signing import LinkLifetime, LinkSigner
from splatflow.pipeline.s3_locations import S3Location
from splatflow.pipeline.settings import PipelineSettings
from splatflow.pipeline.signed_index import (
    SOG_PROPERTIES,
    IndexSigner,
    SignedIndexError,
    signed_lod_bundle,
    signed_tileset,
)
from splatflow.viewer import VIEWER_FILE_NAME

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
LIFETIME = LinkLifetime(NOW + timedelta(days=7), certain=True)
BUCKET = "work"
RUN_KEY = "manual__x"


@pytest.fixture(scope="module")
def local_output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_run_output(tmp_path_factory.mktemp("compress"))


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1", config=Config(signature_version="s3v4"))
        client.create_bucket(Bucket=BUCKET)
        yield client


@pytest.fixture
def output(s3: Any, local_output: Path) -> RunOutput:
    return upload_run_output(s3, BUCKET, RUN_KEY, local_output)


def index_signer(s3: Any, output: RunOutput) -> IndexSigner:
    signer = LinkSigner(s3, Credentials("AKIALINKSIGNER000000", "secret"))
    return IndexSigner(s3, signer, LIFETIME, NOW, f"s3://{BUCKET}/{output.folder}", None)


def signed_key(url: str) -> str:
    """The key a presigned path-style or virtual-hosted URL gets, refused if it is not signed."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert parts.scheme in {"http", "https"}, f"not an absolute URL: {url}"
    assert query.get("X-Amz-Signature") and query["X-Amz-Expires"] == [str(7 * 24 * 3600)], f"not signed: {url}"
    path = unquote(parts.path).lstrip("/")
    return path.removeprefix(f"{BUCKET}/") if not parts.netloc.startswith(f"{BUCKET}.") else path


def read(s3: Any, key: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    return document


def existing(s3: Any, key: str) -> bool:
    return s3.list_objects_v2(Bucket=BUCKET, Prefix=key).get("Contents", [{}])[0].get("Key") == key


def test_the_signed_bundle_names_every_chunk_and_image_by_a_presigned_url_of_the_runs_own_files(
    s3: Any, output: RunOutput
) -> None:
    url = signed_lod_bundle(index_signer(s3, output), output.uri(LOD_META))

    index_key = signed_key(url)
    assert index_key == f"{output.folder}/signed/{LOD_META}", "the copy keeps the name the engine parses by"
    copy = read(s3, index_key)
    original = output.lod_meta
    assert len(original["filenames"]) >= 4 and original.get("environment"), "the example has chunks and an environment"
    assert {key: value for key, value in copy.items() if key not in ("filenames", "environment")} == {
        key: value for key, value in original.items() if key not in ("filenames", "environment")
    }, "only the names change"
    names = [
        *zip(original["filenames"], copy["filenames"], strict=True),
        (original["environment"], copy["environment"]),
    ]
    images = 0
    for name, signed in names:
        chunk_key = signed_key(signed)
        assert chunk_key == f"{output.folder}/signed/lod/{name}", "a chunk's meta.json links to its own signed copy"
        chunk_original = json.loads((output.local / "lod" / name).read_text())
        chunk_copy = read(s3, chunk_key)
        for part in SOG_PROPERTIES:
            if part not in chunk_original:
                continue
            folder = Path(name).parent.as_posix()
            expected = [f"{output.folder}/lod/{folder}/{file}" for file in chunk_original[part]["files"]]
            linked = [signed_key(file) for file in chunk_copy[part]["files"]]
            assert linked == expected, f"{name}: {part} names its own images, signed"
            assert all(existing(s3, key) for key in linked)
            images += len(linked)
    assert images >= 5 * len(names), "every chunk's images were signed"


def test_the_signed_tileset_names_its_tile_by_a_presigned_url(s3: Any, output: RunOutput) -> None:
    url = signed_tileset(index_signer(s3, output), output.uri(TILESET))

    copy_key = signed_key(url)
    assert copy_key == f"{output.folder}/signed/{TILESET}"
    copy = read(s3, copy_key)
    assert signed_key(copy["root"]["content"]["uri"]) == f"{output.folder}/{TILE_CONTENT}"
    original = json.loads((output.local / TILESET).read_text())
    copy["root"]["content"]["uri"] = TILE_CONTENT
    assert copy == original, "nothing but the content URI changes"


def put_json(s3: Any, key: str, document: dict[str, Any]) -> None:
    s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(document).encode())


@pytest.mark.parametrize(
    "name",
    [
        "../scene.sog",
        "../../train/model/splat.ply",
        "/runs/other/compress/lod/0_0/meta.json",
        "https://elsewhere/x.json",
    ],
)
def test_a_bundle_naming_a_file_outside_its_folder_is_refused(s3: Any, output: RunOutput, name: str) -> None:
    put_json(s3, f"{output.folder}/lod/{'lod-meta.json'}", {**output.lod_meta, "filenames": ["0_0/meta.json", name]})

    with pytest.raises(SignedIndexError, match="names"):
        signed_lod_bundle(index_signer(s3, output), output.uri(LOD_META))


def test_a_chunk_naming_an_image_outside_the_bundle_is_refused(s3: Any, output: RunOutput) -> None:
    name = output.lod_meta["filenames"][0]
    chunk = json.loads((output.local / "lod" / name).read_text())
    chunk["means"]["files"] = ["../../../viewer.html", chunk["means"]["files"][1]]
    put_json(s3, f"{output.folder}/lod/{name}", chunk)

    with pytest.raises(SignedIndexError, match="outside"):
        signed_lod_bundle(index_signer(s3, output), output.uri(LOD_META))


def test_a_tileset_naming_another_tileset_or_a_file_outside_its_folder_is_refused(s3: Any, output: RunOutput) -> None:
    original = json.loads((output.local / TILESET).read_text())
    for uri, problem in [("../../sfm/report.json", "external tileset"), ("../train/splat.ply", "outside")]:
        put_json(s3, f"{output.folder}/{TILESET}", {**original, "root": {**original["root"], "content": {"uri": uri}}})
        with pytest.raises(SignedIndexError, match=problem):
            signed_tileset(index_signer(s3, output), output.uri(TILESET))


def test_an_index_outside_the_runs_output_is_refused(s3: Any, output: RunOutput) -> None:
    with pytest.raises(SignedIndexError, match="outside the run's output"):
        signed_tileset(index_signer(s3, output), f"s3://{BUCKET}/runs/other/compress/{TILESET}")


def test_the_emailed_viewer_streams_the_signed_bundle_and_the_tileset_link_opens_the_signed_tileset(
    s3: Any, output: RunOutput
) -> None:
    outputs = {
        name: S3Location(BUCKET, f"{output.folder}/{file}")
        for name, file in {
            "sog": "scene.sog",
            "ply": "splat.ply",
            "viewer": VIEWER_FILE_NAME,
            "lod": LOD_META,
            "tileset": TILESET,
            "tile": TILE_CONTENT,
        }.items()
    }
    manifest = {"outputs": {name: location.uri for name, location in outputs.items()}}
    signer = LinkSigner(s3, Credentials("AKIALINKSIGNER000000", "secret"))

    links = presigned_links(manifest, PipelineSettings(), signer, s3, now=NOW)

    fragment = parse_qs(urlsplit(links.viewer).fragment)
    assert signed_key(fragment["sog"][0]) == f"{output.folder}/scene.sog", "the .sog to fall back on"
    assert signed_key(fragment["lod"][0]) == f"{output.folder}/signed/{LOD_META}"
    assert signed_key(links.tileset or "") == f"{output.folder}/signed/{TILESET}"
    assert signed_key(links.tile or "") == f"{output.folder}/{TILE_CONTENT}"
