"""``.glb`` with Khronos's ``KHR_gaussian_splatting``: the splat as glTF, for glTF tools.

The container (a JSON chunk and a binary chunk) is written here with ``json`` and ``struct``:
the PyPI glTF libraries (``pygltflib`` 1.16.5, ``gltflib`` 1.0.13) both need
``dataclasses-json``, which requires marshmallow below 4, while the Airflow stack pins
marshmallow 4.4.0 (``constraints.txt``), so neither installs beside it.

One primitive of mode POINTS carries the splats, as ``@playcanvas/splat-transform`` 3.10.2
writes them (its ``writeGlb``): ``POSITION``, ``COLOR_0`` (a fallback colour), and the
extension's ``ROTATION`` (x y z w), ``SCALE`` (linear, not log), ``OPACITY`` (0..1, not logit),
``SH_DEGREE_0_COEF_0`` (the raw DC coefficients) and ``SH_DEGREE_l_COEF_c`` (RGB per
coefficient). The values are the ``.ply``'s own, in its z-up frame (east, north, up on a
geo-registered run); the node's matrix turns that frame into glTF's y-up, so no coefficient
has to be rotated.

``encode_spz_glb`` wraps the ``.spz`` bytes instead, with
``KHR_gaussian_splatting_compression_spz_2``: the only Gaussian-splat content CesiumJS 1.145
draws in 3D Tiles (``GaussianSplat3DTileContent.tilesetRequiresGaussianSplattingExt`` asks the
tileset to require both extensions), whose loader then reads the attributes from the decoded
SPZ (``GltfVertexBufferLoader.processSpz``) and the node's matrix as the content's transform.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from splatflow.formats.ply import Splats
from splatflow.formats.spz import encode_spz

EXTENSION = "KHR_gaussian_splatting"
SPZ_EXTENSION = "KHR_gaussian_splatting_compression_spz_2"
GLB_MAGIC, GLB_VERSION = 0x46546C67, 2
JSON_CHUNK, BIN_CHUNK = 0x4E4F534A, 0x004E4942
FLOAT, UNSIGNED_BYTE = 5126, 5121
POINTS = 0
SH_C0 = 0.28209479177387814
Z_UP_TO_Y_UP = [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]
"""Column-major: x stays, the data's y (north) becomes glTF's -z, its z (up) glTF's +y."""
KERNEL = {
    "kernel": "ellipse",
    "colorSpace": "srgb_rec709_display",
    "sortingMethod": "cameraDistance",
    "projection": "perspective",
}
COMPONENTS = {"SCALAR": 1, "VEC3": 3, "VEC4": 4}


class GlbFormatError(ValueError):
    """The file is not a splat ``.glb`` we can read; the message names what is wrong."""


def _sh_attribute_names(degree: int) -> list[str]:
    return [f"{EXTENSION}:SH_DEGREE_{band}_COEF_{c}" for band in range(1, degree + 1) for c in range(2 * band + 1)]


def _attributes(splats: Splats) -> list[tuple[str, npt.NDArray[Any], str]]:
    """(semantic, values, accessor type) of every attribute, in the order they are written."""
    quats = splats.quats / np.linalg.norm(splats.quats, axis=1, keepdims=True)
    colour = np.clip(np.round((splats.sh_dc * SH_C0 + 0.5) * 255), 0, 255)
    alpha = 1.0 / (1.0 + np.exp(-splats.opacities.astype(np.float64)))
    colour_0 = np.hstack([colour, np.clip(np.round(alpha * 255), 0, 255)[:, None]]).astype(np.uint8)
    attributes: list[tuple[str, npt.NDArray[Any], str]] = [
        ("POSITION", splats.means.astype(np.float32), "VEC3"),
        ("COLOR_0", colour_0, "VEC4"),
        (f"{EXTENSION}:ROTATION", quats[:, [1, 2, 3, 0]].astype(np.float32), "VEC4"),
        (f"{EXTENSION}:SCALE", np.exp(splats.scales.astype(np.float64)).astype(np.float32), "VEC3"),
        (f"{EXTENSION}:OPACITY", alpha.astype(np.float32), "SCALAR"),
        (f"{EXTENSION}:SH_DEGREE_0_COEF_0", splats.sh_dc.astype(np.float32), "VEC3"),
    ]
    for index, name in enumerate(_sh_attribute_names(splats.sh_degree)):
        attributes.append((name, splats.sh_rest[:, index, :].astype(np.float32), "VEC3"))
    return attributes


def _document(accessors: list[dict[str, Any]], names: list[str], primitive_extension: dict[str, Any]) -> dict[str, Any]:
    return {
        "asset": {"version": "2.0", "generator": "splatflow"},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0, "matrix": Z_UP_TO_Y_UP}],
        "meshes": [
            {
                "primitives": [
                    {
                        "mode": POINTS,
                        "attributes": {name: index for index, name in enumerate(names)},
                        "extensions": {EXTENSION: primitive_extension},
                    }
                ]
            }
        ],
        "accessors": accessors,
    }


def _pack(document: dict[str, Any], binary: bytes) -> bytes:
    text = json.dumps(document, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 4)
    binary += b"\0" * (-len(binary) % 4)
    total = 12 + 8 + len(text) + 8 + len(binary)
    return b"".join(
        [
            struct.pack("<III", GLB_MAGIC, GLB_VERSION, total),
            struct.pack("<II", len(text), JSON_CHUNK),
            text,
            struct.pack("<II", len(binary), BIN_CHUNK),
            binary,
        ]
    )


def _accessor(values: npt.NDArray[Any], kind: str, buffer_view: int | None) -> dict[str, Any]:
    accessor: dict[str, Any] = {
        "componentType": UNSIGNED_BYTE if values.dtype == np.uint8 else FLOAT,
        "count": int(values.shape[0]),
        "type": kind,
    }
    if buffer_view is not None:
        accessor["bufferView"] = buffer_view
    if values.dtype == np.uint8:
        accessor["normalized"] = True
    if kind == "VEC3" and values.dtype == np.float32 and values.shape[0]:
        accessor["min"] = [float(v) for v in values.min(axis=0)]
        accessor["max"] = [float(v) for v in values.max(axis=0)]
    return accessor


def encode_glb(splats: Splats) -> bytes:
    """The ``.glb`` of ``splats``, every attribute a plain accessor."""
    attributes = _attributes(splats)
    chunks, views, accessors, offset = [], [], [], 0
    for index, (_, values, kind) in enumerate(attributes):
        data = np.ascontiguousarray(values).tobytes()
        views.append({"buffer": 0, "byteOffset": offset, "byteLength": len(data), "target": 34962})
        accessors.append(_accessor(values, kind, index))
        chunks.append(data + b"\0" * (-len(data) % 4))
        offset += len(chunks[-1])
    document = _document(accessors, [name for name, _, _ in attributes], dict(KERNEL))
    document.update(extensionsUsed=[EXTENSION], buffers=[{"byteLength": offset}], bufferViews=views)
    return _pack(document, b"".join(chunks))


def encode_spz_glb(splats: Splats) -> bytes:
    """A ``.glb`` whose attributes are the ``.spz`` of ``splats`` (the 3D Tiles content)."""
    spz = encode_spz(splats)
    attributes = _attributes(splats)
    accessors = [_accessor(values, kind, None) for _, values, kind in attributes]
    extension = {**KERNEL, "extensions": {SPZ_EXTENSION: {"bufferView": 0}}}
    document = _document(accessors, [name for name, _, _ in attributes], extension)
    document.update(
        extensionsUsed=[EXTENSION, SPZ_EXTENSION],
        extensionsRequired=[EXTENSION, SPZ_EXTENSION],
        buffers=[{"byteLength": len(spz) + (-len(spz) % 4)}],
        bufferViews=[{"buffer": 0, "byteOffset": 0, "byteLength": len(spz)}],
    )
    return _pack(document, spz)


def write_glb(splats: Splats, path: Path) -> int:
    """Write ``splats`` to ``path`` as ``.glb``; returns the file's size in bytes."""
    data = encode_glb(splats)
    path.write_bytes(data)
    return len(data)


def read_glb_document(data: bytes) -> tuple[dict[str, Any], bytes]:
    """The JSON document and the binary chunk of a ``.glb``."""
    if len(data) < 20 or struct.unpack_from("<I", data)[0] != GLB_MAGIC:
        raise GlbFormatError("not a .glb file (its header lacks the glTF magic number)")
    length, kind = struct.unpack_from("<II", data, 12)
    if kind != JSON_CHUNK:
        raise GlbFormatError("the .glb file's first chunk is not its JSON")
    document = json.loads(data[20 : 20 + length])
    offset = 20 + length
    binary = b""
    if offset + 8 <= len(data):
        size, kind = struct.unpack_from("<II", data, offset)
        if kind == BIN_CHUNK:
            binary = data[offset + 8 : offset + 8 + size]
    return document, binary


def _values(document: dict[str, Any], binary: bytes, accessor_index: int) -> npt.NDArray[Any]:
    accessor = document["accessors"][accessor_index]
    view = document["bufferViews"][accessor["bufferView"]]
    dtype = np.uint8 if accessor["componentType"] == UNSIGNED_BYTE else np.float32
    width = COMPONENTS[accessor["type"]]
    start = view.get("byteOffset", 0) + accessor.get("byteOffset", 0)
    values = np.frombuffer(binary, dtype, accessor["count"] * width, start)
    return values.reshape(accessor["count"], width)


def decode_glb(data: bytes) -> Splats:
    """The splats of a plain-accessor splat ``.glb`` (as :func:`encode_glb` writes one)."""
    document, binary = read_glb_document(data)
    try:
        primitive = document["meshes"][0]["primitives"][0]
        attributes = primitive["attributes"]
        if EXTENSION not in primitive.get("extensions", {}):
            raise GlbFormatError(f"the .glb file's mesh is not a {EXTENSION} primitive")

        def column(name: str) -> npt.NDArray[Any]:
            return _values(document, binary, attributes[name])

        degree = max((int(n.split("_")[-3]) for n in attributes if "SH_DEGREE_" in n), default=0)
        rest = [column(name) for name in _sh_attribute_names(degree)]
        xyzw = column(f"{EXTENSION}:ROTATION")
        opacity = column(f"{EXTENSION}:OPACITY")[:, 0].astype(np.float64)
        opacity = np.clip(opacity, 1e-7, 1 - 1e-7)
        count = len(xyzw)
        return Splats(
            means=column("POSITION").copy(),
            scales=np.log(column(f"{EXTENSION}:SCALE")).astype(np.float32),
            quats=xyzw[:, [3, 0, 1, 2]].copy(),
            opacities=np.log(opacity / (1 - opacity)).astype(np.float32),
            sh_dc=column(f"{EXTENSION}:SH_DEGREE_0_COEF_0").copy(),
            sh_rest=np.stack(rest, axis=1) if rest else np.zeros((count, 0, 3), dtype=np.float32),
        )
    except (KeyError, IndexError) as exc:
        raise GlbFormatError(f"the .glb file lacks {exc} of a splat primitive") from None


def read_glb(path: Path) -> Splats:
    return decode_glb(path.read_bytes())
