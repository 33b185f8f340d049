"""The compression stage's settings, passed as Processing-job container arguments.

Processing jobs have no hyperparameters file: the request builder turns these settings into
``ContainerArguments`` (``--name value``) and the stage parses them back with
``stages.harness.read_arguments``. Part of the contract package (standard library only): the
pipeline checks an operator's ``SPLATFLOW_COMPRESS_ARGUMENTS`` against this class before any job
starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

TexelOrderName = Literal["morton", "sorted", "input"]


@dataclass(frozen=True)
class Settings:
    """Every knob of the compression stage; the defaults suit scenes up to a few million splats."""

    texel_order: TexelOrderName = "morton"
    """How splats are laid into the textures: ``morton`` (Z-order of positions, one long coherent
    run per row, measured smallest on our scenes), ``sorted`` (the self-organising 2D sort) or
    ``input`` (file order)."""
    sh_palette_size: int = 0
    """Entries of the higher-order SH palette (at most 65536); 0 picks about one per 16 splats (a
    power of two from 1024, at most splat-transform's size for the count). More entries: a
    larger file, closer reflections."""
    remove_floaters: bool = True
    """Remove the floaters before encoding: splats that are the surface of no photo (hidden from
    every photo, or haze in front of what they show; ``stages.compress.floaters``). Needs the
    model's ``photo_cameras.json`` (models trained before it was written skip the step, and the
    report says why); the report gives the count and the held-out PSNR before and after."""
    floater_min_pixels: float = 1.0
    """A splat adding less than this, in photo pixels summed over every photo where it is the
    surface shown, is a floater. Higher removes more of the faint splats; 0 removes only the
    splats that add nothing at all."""
    floater_image_scale: float = 0.5
    """Render the photos at this fraction of their training resolution to find the floaters
    (every photo is rendered once, on the CPU)."""
    prune_fraction: float = 0.0
    """Drop this fraction of the splats that can matter least (opacity times the square of the
    largest extent) before encoding, 0 to below 1; the quality check still judges the result
    against the full model. 0.1 measured on a trained SH-3 scene: 18.7x to 20.6x smaller than
    the ``.ply``, the render 41.5 dB from the original's, no loss against the held-out photos."""
    kmeans_iterations: int = 10
    """Lloyd iterations of each k-means (SH palette levels)."""
    webp_method: int = 4
    """libwebp lossless method 0-6: higher is a few percent smaller and several times slower."""
    webp_quality: int = 80
    """libwebp lossless effort 0-100 (still lossless: only the search effort changes)."""
    encode_workers: int = 0
    """Textures encoded at once; 0 uses every CPU."""
    cpu_threads: int = 0
    """PyTorch CPU threads for the k-means and the quality renders; 0 leaves one core to the rest
    of the machine (``splatflow.render.threads``)."""

    lod_min_sog_bytes: int = 2_500_000
    """Past this ``.sog`` size the stage also writes the streamed LOD bundle (``lod/``). A phone on
    a 10 Mbit/s link receives 1.25 MB a second: the viewer page (0.67 MB gzipped, 0.5 s), a
    2.5 MB ``.sog`` (2 s) and its decoding are about the 3 s we let a viewer wait for a first
    frame. Below it the single ``.sog`` comes as quickly as the bundle's coarsest level would.
    0 writes no bundle."""
    lod_coarsest_splats: int = 40_000
    """The bundle's coarsest level holds at most this many splats (about 0.5 MB at SH degree 1,
    0.4 s at 10 Mbit/s): what the viewer draws first."""
    lod_max_levels: int = 6
    """Levels of detail at most, the finest included (each about a quarter of the one below)."""

    quality_check: bool = True
    """Render the held-out views from the original and the decoded bundle and compare them."""
    max_psnr_loss_db: float = 1.0
    """Fail when the decoded bundle's PSNR against the held-out photos is this much below the
    original's (or, without photos, below ``min_psnr_vs_original_db`` against the original)."""
    min_psnr_vs_original_db: float = 30.0
    """Without held-out photos: the least PSNR of the decoded bundle's render against the original's."""
    quality_image_scale: float = 0.5
    """Render the held-out views at this fraction of their resolution (the check runs on CPU)."""
    quality_max_views: int = 8
    """Compare at most this many held-out views (evenly picked)."""
    seed: int = 0
    """Seed of every random choice, so a rerun writes the same bytes."""
    copy_ply: bool = True
    """Copy the model's ``.ply`` into the output beside the ``.sog``, for a model that has no
    ``.ply`` of its own in the run's folder (a user's ``model.tar.gz`` or ``.ply``, ``compress_only``).
    The pipeline turns it off for the run's own training output, whose ``.ply`` is linked where
    training wrote it: each artefact is stored once."""
