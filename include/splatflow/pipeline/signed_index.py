"""Signed copies of the index files the emailed links open, so one link reaches every file they name.

A presigned URL signs one object (``link_signing``). The streamed LOD bundle's ``lod-meta.json``
names its chunks' ``meta.json`` files, each of which names its ``.webp`` images, and
``tileset.json`` names ``tile.glb``, all by relative name; resolved against a presigned index, a
relative name is an unsigned URL that S3 refuses. So, when the links are signed, each index is
copied with every file it names replaced by that file's absolute presigned URL, the copies are
stored under the compression output's ``signed/`` folder (inside ``runs/*/compress/*``, which the
link signer may read: docs/iam/link-signer-policy.json), and the email links to a presigned copy.
The copies' links are signed with the email's, so they expire together.

How the readers take an absolute, query-stringed name (PlayCanvas 2.23.3, as vendored):

- ``GSplatOctree`` keeps a name that is not relative as it is
  (``url: path.isRelativePath(f) ? path.join(dir, f) : f``), the environment's too;
- the unbundled SOG parser resolves each image with ``new URL(name, metaUrl)``, which leaves an
  absolute URL and its query alone (WHATWG URL parsing);
- the resource loader picks a parser by the URL's extension and base name with the query cut off
  (``ResourceHandler._makeContext``: ``url.split("?")[0]``), so the copies keep the names
  ``lod-meta.json`` and ``meta.json``: the octree parser is chosen by the base name
  ``lod-meta.json``, the SOG one by the extension ``json``.

CesiumJS 1.145 derives a tile's content resource with ``Resource.getDerivedResource({url})``
(``Cesium3DTile``'s constructor): ``Resource.prototype.parseUrl`` resolves the URI against the
tileset's only when it has no scheme (``Uri.absoluteTo``), and merges the tileset's query under the
content's own (``combineQueryParameters`` with ``preserveQueryParameters`` false: the content's
keys win). Both links come from one signer with the same ``X-Amz-*`` keys, so the content keeps
its own signature and gains nothing.

Nothing outside the bundle's or tileset's own folder is signed: an index that names a file
elsewhere (``../``, an absolute path or URL) is refused, so a copy never hands out a link to more
of the bucket than the run delivered.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from splatflow.encryption import encryption_args
from splatflow.pipeline.link_signing import LinkLifetime, LinkSigner

SIGNED_FOLDER = "signed"
"""The copies' folder beside the files they name: ``runs/<run key>/compress/signed/``."""

SOG_PROPERTIES = ("means", "scales", "quats", "sh0", "shN")
"""The parts of an unbundled SOG ``meta.json`` that name image files (``files``)."""

Reference = Callable[[str], str]
"""Turns a name an index holds into the URL its signed copy holds instead."""

Rewrite = Callable[[dict[str, Any], Reference], None]
"""Replaces, in place, every name an index document holds, through a :data:`Reference`."""


class SignedIndexError(ValueError):
    """An index names a file the signed copy cannot or must not link to."""


def _resolve(index_key: str, name: str, folder: str) -> str:
    """The key ``name`` refers to, relative to ``index_key``, refused outside ``folder``."""
    if not isinstance(name, str) or not name or "://" in name or name.startswith("/") or "?" in name:
        raise SignedIndexError(f"{index_key} names {name!r}, not a file beside it")
    key = posixpath.normpath(posixpath.join(posixpath.dirname(index_key), name))
    if not key.startswith(folder + "/"):
        raise SignedIndexError(f"{index_key} names {name!r}, outside {folder}/")
    return key


@dataclass(frozen=True)
class IndexSigner:
    """Writes signed copies of one run's index files and presigns them, all with one lifetime."""

    s3: Any
    """Reads the indexes and writes the copies (the pipeline's connection, which may write)."""
    signer: LinkSigner
    lifetime: LinkLifetime
    now: datetime
    output: str
    """The compression output's folder (``s3://bucket/prefix``): the indexes lie in it, the copies
    go to its ``signed/``."""
    kms_key_id: str | None

    @property
    def bucket(self) -> str:
        return self.output.removeprefix("s3://").partition("/")[0]

    @property
    def folder(self) -> str:
        return self.output.removeprefix("s3://").partition("/")[2].rstrip("/")

    def key_of(self, uri: str) -> str:
        """The key of an ``s3://`` URI in the output's bucket (an index elsewhere is refused)."""
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        if bucket != self.bucket:
            raise SignedIndexError(f"{uri} is outside the run's output {self.output}")
        return key

    def presign(self, key: str) -> str:
        return self.signer.presign(f"s3://{self.bucket}/{key}", self.lifetime, self.now)

    def signed_copy(self, index_key: str, within: str, rewrite: Rewrite, reference: Reference | None = None) -> str:
        """The presigned URL of the index's copy, in which ``rewrite`` replaced each name it holds.

        Every name must lead into ``within`` (a key prefix); by default a name becomes its file's
        presigned URL. The copy keeps the index's path below the output folder, under ``signed/``,
        so its base name is the original's.
        """
        folder = self.folder
        if not index_key.startswith(folder + "/"):
            raise SignedIndexError(f"{index_key} is outside the run's output {folder}/")
        document = json.loads(self.s3.get_object(Bucket=self.bucket, Key=index_key)["Body"].read())
        if not isinstance(document, dict):
            raise SignedIndexError(f"{index_key} is not a JSON object")
        rewrite(document, reference or (lambda name: self.presign(_resolve(index_key, name, within))))
        copy_key = posixpath.join(folder, SIGNED_FOLDER, index_key.removeprefix(folder + "/"))
        self.s3.put_object(
            Bucket=self.bucket,
            Key=copy_key,
            Body=json.dumps(document, separators=(",", ":")).encode(),
            ContentType="application/json",
            **encryption_args(self.kms_key_id),
        )
        return self.presign(copy_key)


def _replace_lod_names(document: dict[str, Any], reference: Reference) -> None:
    """``lod-meta.json``'s chunk files (``filenames``) and its ``environment``."""
    if not isinstance(document.get("filenames"), list):
        raise SignedIndexError("lod-meta.json lists no filenames")
    document["filenames"] = [reference(name) for name in document["filenames"]]
    if document.get("environment"):
        document["environment"] = reference(document["environment"])


def _replace_sog_images(document: dict[str, Any], reference: Reference) -> None:
    """An unbundled SOG ``meta.json``'s images (each part's ``files``)."""
    for part in SOG_PROPERTIES:
        files = (document.get(part) or {}).get("files")
        if files is not None:
            document[part]["files"] = [reference(name) for name in files]


def _tile_contents(tile: MutableMapping[str, Any]) -> Iterator[MutableMapping[str, Any]]:
    """Every content object of a tile and its children (3D Tiles 1.1 ``content`` and ``contents``)."""
    if isinstance(tile.get("content"), MutableMapping):
        yield tile["content"]
    yield from (content for content in tile.get("contents") or [] if isinstance(content, MutableMapping))
    for child in tile.get("children") or []:
        yield from _tile_contents(child)


def _replace_tile_uris(document: dict[str, Any], reference: Reference) -> None:
    for content in _tile_contents(document.get("root") or {}):
        uri = content.get("uri", "")
        if uri.endswith(".json"):
            raise SignedIndexError(f"the tileset names an external tileset ({uri}), which is not signed")
        content["uri"] = reference(uri)


def signed_lod_bundle(index_signer: IndexSigner, lod_meta: str) -> str:
    """The presigned URL of a signed ``lod-meta.json`` (``s3://`` URI): its chunks' ``meta.json``
    signed copies too, their images presigned; nothing named outside the bundle's folder."""
    index_key = index_signer.key_of(lod_meta)
    within = posixpath.dirname(index_key)

    def chunk(name: str) -> str:
        key = _resolve(index_key, name, within)
        if not key.endswith(".json"):  # a bundled .sog chunk is one file
            return index_signer.presign(key)
        return index_signer.signed_copy(key, within, _replace_sog_images)

    return index_signer.signed_copy(index_key, within, _replace_lod_names, chunk)


def signed_tileset(index_signer: IndexSigner, tileset: str) -> str:
    """The presigned URL of a signed ``tileset.json`` (``s3://`` URI) whose content URIs are presigned."""
    index_key = index_signer.key_of(tileset)
    return index_signer.signed_copy(index_key, posixpath.dirname(index_key), _replace_tile_uris)
