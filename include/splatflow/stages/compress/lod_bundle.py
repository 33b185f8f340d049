"""The streamed LOD bundle: ``lod-meta.json`` and one unbundled SOG per chunk of each level.

The layout is the one ``@playcanvas/splat-transform`` 3.10.2 writes and reads
(``src/lib/writers/write-lod.ts``, ``src/lib/readers/read-lod.ts``) and the PlayCanvas engine
2.23.3 streams (``GSplatOctree``, ``build/playcanvas/src/scene/gsplat-unified/gsplat-octree.js``):

- ``lod-meta.json``: ``version`` 1, ``lodLevels``, ``count`` and per-level ``counts``,
  ``filenames`` (one ``<level>_<n>/meta.json`` per chunk file) and a binary ``tree`` of nodes
  with an axis-aligned ``bound`` (``min``/``max``); each leaf lists, per level, the ``file``
  (an index into ``filenames``), the ``offset`` of its splats in that file and their ``count``.
  Level 0 is the finest. The reader checks that each level's leaf counts sum to ``counts``.
- ``environment``: an optional ``env/meta.json`` that the engine always draws, whatever the
  camera's distance (``GSplatOctreeInstance``'s environment placement); splat-transform tags
  such splats as level ``-1`` (``--tag-lod -1``). The background (sky, horizon) goes there.

The partition follows the writer's: a kd split at the median centre along the longest axis,
over the centres of every level together, until a node holds ``leaf_splats`` or fewer; each
leaf's splats of one level are Morton-ordered and appended to that level's current file, a new
file started once it passes ``file_splats`` (``write-lod.ts`` lines 543-596). Files are small
so the viewer fetches what the camera needs, coarse levels first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from splatflow import __version__
from splatflow.formats.ply import Splats
from splatflow.formats.sog import WebpEffort, write_sog_folder
from splatflow.stages.compress.encoder import EncoderOptions, encode_splats, morton_order, reordered
from splatflow.stages.compress.lod_levels import rotations_of

LOD_META = "lod-meta.json"
ENVIRONMENT = "env/meta.json"

Int64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class ChunkSizes:
    leaf_splats: int = 48_000
    """Splats of all levels under one leaf of the tree (the unit the engine picks a level for)."""
    file_splats: int = 96_000
    """Splats of one level after which a chunk file is closed (about 1.3 MB at SH degree 1)."""


@dataclass
class _Leaf:
    bound: dict[str, list[float]]
    rows: dict[int, Int64]
    """Per level, the rows of that level's splats under the leaf."""
    lods: dict[str, dict[str, int]] = field(default_factory=dict)


def splat_bounds(splats: Splats) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Each splat's box: its centre +- ``|R| s``, the box of its rotated one-sigma box, as the
    writer bounds a leaf (``accumulateBound``, ``setFromTransformedAabb``)."""
    half = np.einsum("nij,nj->ni", np.abs(rotations_of(splats.quats)), np.exp(splats.scales.astype(np.float64)))
    means = splats.means.astype(np.float64)
    return means - half, means + half


def _partition(centres: npt.NDArray[np.float64], rows: Int64, leaf_splats: int, make_leaf: Any) -> dict[str, Any]:
    if len(rows) <= leaf_splats:
        return make_leaf(rows)
    points = centres[rows]
    axis = int(np.argmax(np.ptp(points, axis=0)))
    middle = len(rows) // 2
    split = np.argpartition(points[:, axis], middle)
    children = [
        _partition(centres, rows[split[:middle]], leaf_splats, make_leaf),
        _partition(centres, rows[split[middle:]], leaf_splats, make_leaf),
    ]
    low = np.minimum(children[0]["bound"]["min"], children[1]["bound"]["min"])
    high = np.maximum(children[0]["bound"]["max"], children[1]["bound"]["max"])
    return {"bound": {"min": low.tolist(), "max": high.tolist()}, "children": children}


def _leaves(node: dict[str, Any]) -> list[_Leaf]:
    if "children" not in node:
        return [node["leaf"]]
    return [leaf for child in node["children"] for leaf in _leaves(child)]


def _strip(node: dict[str, Any]) -> dict[str, Any]:
    """The tree as ``lod-meta.json`` holds it (leaves carry their ``lods``)."""
    if "children" in node:
        return {"bound": node["bound"], "children": [_strip(child) for child in node["children"]]}
    return {"bound": node["bound"], "lods": node["leaf"].lods}


@dataclass(frozen=True)
class LodBundle:
    counts: list[int]
    environment_splats: int
    files: int
    bytes: int
    coarsest_bytes: int
    """What the viewer fetches before its first frame: the coarsest level, the environment and
    ``lod-meta.json``."""
    chunk_rows: dict[str, Int64] = field(default_factory=dict)
    """Per chunk file (as ``filenames`` names it), the row of its level each of its splats is."""


def write_lod_bundle(
    levels: list[Splats],
    environment: Splats | None,
    folder: Path,
    options: EncoderOptions,
    effort: WebpEffort,
    workers: int = 1,
    extras: dict[str, Any] | None = None,
    sizes: ChunkSizes | None = None,
) -> LodBundle:
    """Write ``folder/lod-meta.json`` and its chunks; ``levels[0]`` is the finest.

    ``extras`` (the viewer's first view) goes into ``lod-meta.json`` under ``extras``, a key
    neither the reader nor the engine looks at.
    """
    chosen = sizes or ChunkSizes()
    level_of = np.concatenate([np.full(level.count, index) for index, level in enumerate(levels)])
    row_of = np.concatenate([np.arange(level.count) for level in levels])
    centres = np.concatenate([level.means for level in levels]).astype(np.float64)
    boxes = [splat_bounds(level) for level in levels]

    def make_leaf(rows: Int64) -> dict[str, Any]:
        per_level: dict[int, Int64] = {}
        lows, highs = [], []
        for index, level in enumerate(levels):
            mine = row_of[rows[level_of[rows] == index]]
            if len(mine):
                mine = mine[morton_order(level.means[mine])]
                per_level[index] = mine
                lows.append(boxes[index][0][mine].min(axis=0))
                highs.append(boxes[index][1][mine].max(axis=0))
        bound = {"min": np.min(lows, axis=0).tolist(), "max": np.max(highs, axis=0).tolist()}
        return {"bound": bound, "leaf": _Leaf(bound=bound, rows=per_level)}

    tree = _partition(centres, np.arange(len(centres)), chosen.leaf_splats, make_leaf)
    filenames: list[str] = []
    file_rows: list[list[Int64]] = []
    open_file: dict[int, int] = {}
    for leaf in _leaves(tree):
        for index, rows in leaf.rows.items():
            if index not in open_file:
                open_file[index] = len(filenames)
                filenames.append(f"{index}_0/meta.json")
                file_rows.append([])
            current = open_file[index]
            offset = sum(len(part) for part in file_rows[current])
            leaf.lods[str(index)] = {"file": current, "offset": offset, "count": len(rows)}
            file_rows[current].append(rows)
            if offset + len(rows) > chosen.file_splats:
                open_file[index] = len(filenames)
                filenames.append(f"{index}_{sum(name.startswith(f'{index}_') for name in filenames)}/meta.json")
                file_rows.append([])
    # A file opened after its level's last leaf holds nothing: drop it (no leaf points at it).
    used = [number for number, parts in enumerate(file_rows) if parts]
    renumber = {old: new for new, old in enumerate(used)}
    for leaf in _leaves(tree):
        for entry in leaf.lods.values():
            entry["file"] = renumber[entry["file"]]
    filenames = [filenames[number] for number in used]
    file_rows = [file_rows[number] for number in used]

    in_order = EncoderOptions(
        texel_order="input", sh_palette_size=0, kmeans_iterations=options.kmeans_iterations, seed=options.seed
    )
    chunk_rows = {name: np.concatenate(parts) for name, parts in zip(filenames, file_rows, strict=True)}
    total_bytes, coarsest_bytes = 0, 0
    coarsest = len(levels) - 1
    for name in filenames:
        index = int(name.split("_", 1)[0])
        chunk = reordered(levels[index], chunk_rows[name])
        written = sum(
            write_sog_folder(
                encode_splats(chunk, in_order).encoded, folder / Path(name).parent, effort, workers
            ).values()
        )
        total_bytes += written
        coarsest_bytes += written if index == coarsest else 0
    environment_splats = 0 if environment is None else environment.count
    if environment is not None and environment.count:
        written = sum(
            write_sog_folder(encode_splats(environment, options).encoded, folder / "env", effort, workers).values()
        )
        total_bytes += written
        coarsest_bytes += written
    counts = [level.count for level in levels]
    meta: dict[str, Any] = {
        "version": 1,
        "asset": {"generator": f"splatflow v{__version__}"},
        "count": sum(counts),
        "counts": counts,
        "lodLevels": len(levels),
        **({"environment": ENVIRONMENT} if environment_splats else {}),
        "filenames": filenames,
        "tree": _strip(tree),
        **({"extras": extras} if extras else {}),
    }
    payload = json.dumps(meta, separators=(",", ":")).encode("utf-8")
    (folder / LOD_META).write_bytes(payload)
    total_bytes += len(payload)
    return LodBundle(
        counts=counts,
        environment_splats=environment_splats,
        files=len(filenames) + (1 if environment_splats else 0),
        bytes=total_bytes,
        coarsest_bytes=coarsest_bytes + len(payload),
        chunk_rows=chunk_rows,
    )
