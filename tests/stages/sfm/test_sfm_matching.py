"""The matching method follows the data: exhaustive when small, GPS-spatial or sequential when large."""

from __future__ import annotations

from splatflow.contract.sfm_settings import Settings
from splatflow.stages.sfm.matching import choose_matching
from splatflow.stages.sfm.photos import GpsPosition, Photo


def photos(count: int, with_gps: int) -> list[Photo]:
    return [
        Photo(
            name=f"{index}.jpg",
            width=100,
            height=75,
            camera_key="cam",
            focal_px=120.0,
            focal_from_exif=True,
            gps=GpsPosition(46.0 + index * 1e-4, -91.0, 200.0) if index < with_gps else None,
        )
        for index in range(count)
    ]


def test_small_sets_are_matched_exhaustively() -> None:
    assert choose_matching(photos(60, with_gps=60), Settings()) == "exhaustive"


def test_large_sets_with_gps_everywhere_use_spatial_matching() -> None:
    assert choose_matching(photos(61, with_gps=61), Settings()) == "spatial"


def test_large_sets_with_gaps_in_gps_use_sequential_matching() -> None:
    assert choose_matching(photos(61, with_gps=60), Settings()) == "sequential"


def test_the_threshold_and_the_method_are_settings() -> None:
    assert choose_matching(photos(10, with_gps=10), Settings(exhaustive_max_photos=5)) == "spatial"
    assert choose_matching(photos(500, with_gps=500), Settings(matching="exhaustive")) == "exhaustive"
