"""The file names one stage leaves for the next, and for the publish step and the viewer.

Each name is defined here once: the stage that writes a file and whoever reads it take it from
here, so renaming an output cannot leave a reader looking for the old name.
"""

from __future__ import annotations

SFM_REPORT = "report.json"
"""Beside ``sparse/`` and ``images/`` in the SfM output; a run that reuses an SfM output waits for it."""

MODEL_PLY = "splat.ply"
"""The trained splat (Inria 3DGS layout) in the training job's model folder (uploaded uncompressed,
``<job>/output/model/``), where the compression job reads it and the email links it."""
MODEL_CAMERAS = "cameras.json"
"""The held-out views in the model folder, for the compression stage's render check and stills."""
MODEL_METRICS = "metrics.json"
"""The training figures in the model folder; the compression stage carries them along."""
MODEL_HOLDOUT = "holdout"
"""The folder of held-out photos in the model folder: ``<camera name>``, each the SfM output's file
as it is (a JPEG stays a JPEG)."""
MODEL_PHOTO_CAMERAS = "photo_cameras.json"
"""Every photo's view, training and held-out (``cameras.json``'s format), in the model folder: what
the compression stage needs to tell the splats some photo shows from the floaters none does."""

SOG = "scene.sog"
"""The compressed splat, in the compression output."""
SPZ = "scene.spz"
"""The splat as Niantic's ``.spz``, for SPZ tools (three.js, Spark, Cesium's loaders)."""
GLB = "scene.glb"
"""The splat as glTF (``KHR_gaussian_splatting``), for glTF tools."""
TILE_CONTENT = "tile.glb"
"""The ``.spz`` inside a ``.glb`` (``KHR_gaussian_splatting_compression_spz_2``): the content of the
3D Tiles tileset the publish step writes for a geo-registered run."""
TILESET = "tileset.json"
LOD_FOLDER = "lod"
"""The streamed LOD bundle's folder in the compression output (large models only)."""
LOD_META = f"{LOD_FOLDER}/lod-meta.json"
"""The bundle's index, the file the viewer and splat-transform open (``lod-meta.json``)."""
COMPRESSED_FROM_PLY = "splat.ply"
"""The full splat the ``.sog`` was made from, copied beside it only when the model has no ``.ply`` of
its own in the run's folder (a user's model); a trained run links the training job's ``splat.ply``."""
COMPRESSION_REPORT = "report.json"
TRAINING_METRICS = MODEL_METRICS
PREVIEW = "preview.png"
"""The whole site from above, rendered from the compressed splat: the email's large picture."""
COMPARISON = "comparison.png"
"""The first held-out photo beside the compressed splat's render from its camera (what the
held-out PSNR measures); in the compression output and the manifest, not in the email."""
ORBIT_STILLS = 3
"""Orbit thumbnails rendered around the scene, ``orbit_1.png`` to ``orbit_3.png``."""


def orbit_still(index: int) -> str:
    """The file name of the ``index``-th orbit thumbnail (from 1)."""
    return f"orbit_{index}.png"


STILLS: dict[str, str] = {
    "preview": PREVIEW,
    **{f"orbit_{index}": orbit_still(index) for index in range(1, ORBIT_STILLS + 1)},
}
"""The stills by the name the run's manifest gives them: the preview, then the orbit thumbnails."""

COMPRESSION_OUTPUTS: dict[str, str] = {
    "sog": SOG,
    "ply": COMPRESSED_FROM_PLY,
    "spz": SPZ,
    "glb": GLB,
    "lod": LOD_META,
    **STILLS,
    "comparison": COMPARISON,
    "compression_report": COMPRESSION_REPORT,
    "training_metrics": TRAINING_METRICS,
}
"""The compression output's files by the name the run's manifest gives them: the publish step reads
this folder (the compression job carries the training figures and the stills along), and takes a
trained run's ``ply`` from the training job's model folder."""
