"""The matching method follows the data: exhaustive when small, GPS footprints or sequential when large;
the extraction size and feature count follow the method."""

from __future__ import annotations

from splatflow.contract.sfm_settings import Settings
from splatflow.stages.sfm.features import ExtractionPlan, plan_extraction
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


def test_large_sets_with_gps_everywhere_use_footprint_matching() -> None:
    assert choose_matching(photos(61, with_gps=61), Settings()) == "footprint"


def test_large_sets_with_gaps_in_gps_use_sequential_matching() -> None:
    assert choose_matching(photos(61, with_gps=60), Settings()) == "sequential"


def test_the_threshold_and_the_method_are_settings() -> None:
    assert choose_matching(photos(10, with_gps=10), Settings(exhaustive_max_photos=5)) == "footprint"
    assert choose_matching(photos(500, with_gps=500), Settings(matching="spatial")) == "spatial"
    assert choose_matching(photos(500, with_gps=500), Settings(matching="exhaustive")) == "exhaustive"


def test_a_small_set_is_extracted_at_the_working_size_and_a_survey_at_1024_px() -> None:
    assert plan_extraction(photos(60, with_gps=60), Settings()) == ExtractionPlan(1600, 8192)
    assert plan_extraction(photos(61, with_gps=0), Settings()) == ExtractionPlan(1024, 4096)
    # Never above the working size; an explicit setting wins.
    assert plan_extraction(photos(61, with_gps=0), Settings(image_max_size=800)) == ExtractionPlan(800, 4096)
    chosen = Settings(extraction_max_size=2000, max_num_features=1000)
    assert plan_extraction(photos(61, with_gps=0), chosen) == ExtractionPlan(1600, 1000)
