"""The SfM stage's settings, passed as Processing-job container arguments (``--name value``).

Processing jobs have no hyperparameters file, so the request builder turns these settings into
``ContainerArguments`` and the stage parses them back with ``stages.harness.read_arguments``.
Part of the contract package (standard library only): the pipeline checks an operator's
``SPLATFLOW_SFM_ARGUMENTS`` against this class before any job starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from splatflow.contract.hyperparameters import HyperparameterError

MatchingMethod = Literal["auto", "exhaustive", "footprint", "spatial", "sequential"]
MapperKind = Literal["global", "incremental"]
CameraModelName = Literal["SIMPLE_PINHOLE", "SIMPLE_RADIAL", "RADIAL", "OPENCV"]

GIB = 1024**3
MIB = 1024**2

PHOTO_SUFFIXES = frozenset({".jpg", ".jpeg", ".png"})
"""What the SfM stage takes as a photo in a ZIP (any letter case); the rest is skipped and reported."""


@dataclass(frozen=True)
class Settings:
    """Every knob of the SfM stage; the defaults suit a drone survey of tens to thousands of photos."""

    # --- Unpacking: limits that refuse hostile or absurd ZIPs before anything is written.
    max_zip_total_bytes: int = 20 * GIB
    """Refuse a ZIP whose photos expand to more than this many bytes (zip-bomb guard)."""
    max_photo_bytes: int = 200 * MIB
    """Refuse a ZIP member larger than this when expanded; no real photo comes near it."""
    max_compression_ratio: float = 100.0
    """Refuse a member that expands more than this many times; JPEG and PNG barely compress."""
    max_photos: int = 10_000
    """Refuse a ZIP with more photos than this; larger surveys need splitting into parts."""

    # --- Scale: the photo's resolution, the extraction resolution and the training resolution differ.
    image_max_size: int = 1600
    """Longest side, in pixels, of the working and undistorted images handed to training."""
    extraction_max_size: int = 0
    """Longest side, in pixels, at which SIFT features are extracted (at most ``image_max_size``);
    0 chooses for the survey: ``image_max_size`` for a set matched exhaustively, 1024 px past it."""
    max_num_features: int = 0
    """SIFT features kept per photo; fewer is faster to match, more registers harder scenes;
    0 chooses for the survey: 8192 for a set matched exhaustively, 4096 past it."""

    # --- Camera model fitted during mapping; undistortion then turns every camera into PINHOLE.
    camera_model: CameraModelName = "SIMPLE_RADIAL"
    """Lens model refined by bundle adjustment; OPENCV for strong distortion and many photos."""

    # --- Matching: which photo pairs are compared is chosen by the data unless forced.
    matching: MatchingMethod = "auto"
    """``auto``: exhaustive up to ``exhaustive_max_photos``, then footprint if every photo has GPS,
    else sequential (capture order); the last three grow linearly with the number of photos.
    ``footprint`` matches the photos whose ground footprints overlap (GPS, the camera height found
    from the nearest pairs, the field of view, and where the XMP gives the gimbal's pitch and
    heading, the ground each tilted view sees); ``spatial`` the ``spatial_neighbors`` nearest."""
    exhaustive_max_photos: int = 60
    """Largest set matched exhaustively (all pairs) when ``matching`` is ``auto``."""
    spatial_neighbors: int = 20
    """Spatial and footprint matching: at most how many GPS-nearest photos each photo is matched with."""
    min_footprint_overlap: float = 0.33
    """Footprint matching: photos are matched when their ground footprints (nadir, or what each
    tilted view sees) can overlap by at least this share of the narrower footprint's narrow side."""
    spatial_max_distance_m: float = 200.0
    """Spatial matching: photos further apart than this (metres, horizontally) are not compared."""
    sequential_overlap: int = 15
    """Sequential matching: how many following photos (in name order) each photo is matched with."""
    min_inlier_matches: int = 15
    """A photo pair counts as overlapping only with at least this many geometrically verified matches."""

    # --- Mapping.
    mapper: MapperKind = "global"
    """``global`` (pycolmap's global mapper: robust on drone sets, fast) or ``incremental``."""
    mapper_attempts: int = 3
    """Seeds (``random_seed`` upwards) the chosen mapper tries while its model places too few
    photos: whether global mapping collapses on a weakly connected set depends on its random draws."""
    mapper_fallback: bool = True
    """When the chosen mapper's attempts all place too few photos, try the other mapper once before failing."""
    mapper_tracks_per_photo: int = 500
    """Global mapping places the cameras with the longest tracks until every photo holds this many
    (COLMAP's ``track_required_tracks_per_view``), so its cost grows with the photos, not with all
    their matches; its retriangulation then adds the rest (seneca: same 167 photos and points, half
    the mapping time)."""
    triangulate_all_matches: bool = True
    """Once the poses are final, triangulate every verified match again, two-photo tracks
    included: about twice the points for training to start from, in well under a second."""
    min_photo_points: int = 15
    """A placed photo observing fewer 3D points than this is removed from the model (and reported)."""
    min_registered_fraction: float = 0.7
    """Fail unless at least this fraction of the decoded photos ends up in the model (placed, not removed)."""
    min_registered_photos: int = 3
    """Fail unless at least this many photos end up in the model (and decode in the first place)."""

    # --- Geo-registration.
    georegister: bool = True
    """Align the model to a local east-north-up frame in metres when the photos carry GPS."""
    gps_max_error_m: float = 10.0
    """GPS positions further than this from the model's cameras count as outliers in the alignment."""
    gps_outlier_min_m: float = 20.0
    """A photo this close to its GPS position is never removed as misplaced: twice a drone
    receiver's error, as a phone's GPS in a street is off by 10 - 15 m (``opensfm_lund``)."""
    gps_outlier_mads: float = 5.0
    """A photo further from its GPS position than the survey's median residual plus this many
    robust deviations (1.4826 median absolute deviations) is removed from the model as misplaced."""
    max_gps_tilt_deg: float = 5.0
    """GPS altitudes are used only when a fit to them tilts the model's own up (the cameras' mean
    gaze of a nadir survey, else the ground plane) by at most this; otherwise the model is levelled
    on its own up and fitted to the horizontal GPS positions (drifting drone altitudes)."""

    # --- Output and machine.
    jpeg_quality: int = 95
    """Quality of the working and undistorted JPEG images."""
    num_threads: int = -1
    """CPU threads for extraction, matching and mapping; -1 uses every core of the instance."""
    random_seed: int = 0
    """Seed for pycolmap's randomised steps. With the photos numbered in name order, a rerun of the
    same ZIP gives the same model (to the last bits of bundle adjustment's multithreaded sums)."""

    def __post_init__(self) -> None:
        if self.mapper_attempts < 1:
            raise HyperparameterError(f"mapper_attempts={self.mapper_attempts} must be at least 1")
