"""Footprint geometry: GPS to metres on the ground, and how near two photos must be to overlap."""

from __future__ import annotations

import numpy as np
import pytest

from splatflow.stages.sfm.footprints import footprint_reach, horizontal_positions
from splatflow.stages.sfm.photos import GpsPosition, Photo


def photo(name: str, gps: GpsPosition | None, width: int = 1600, height: int = 1200, focal: float = 1100.0) -> Photo:
    return Photo(name, width, height, "camera", focal, True, gps)


def test_gps_positions_become_metres_east_and_north_of_the_survey_centre() -> None:
    # 0.001 degree of latitude is 111 m; of longitude at 60 degrees north, half of that.
    photos = [
        photo("a", GpsPosition(60.000, 10.000, 300.0)),
        photo("b", GpsPosition(60.001, 10.000, 380.0)),
        photo("c", GpsPosition(60.000, 10.002, 250.0)),
        photo("no-gps", None),
    ]
    positions = horizontal_positions(photos)
    assert positions.keys() == {"a", "b", "c"}
    assert np.linalg.norm(positions["b"] - positions["a"]) == pytest.approx(111.4, abs=0.5)
    assert np.linalg.norm(positions["c"] - positions["a"]) == pytest.approx(111.6, abs=0.5)
    # Altitudes (80 m apart here) play no part: the positions are on the ground plane.
    assert positions["b"][0] == pytest.approx(positions["a"][0], abs=0.01)


def test_photos_overlap_within_the_narrow_side_of_the_footprint_less_the_required_overlap() -> None:
    # 57 m up, 1200 px across the narrow side at a focal length of 1100 px: 62.2 m of ground.
    photos = [photo("a", None), photo("b", None, width=1200, height=1600)]
    assert footprint_reach(57.0, photos, min_overlap=0.33) == pytest.approx(0.67 * 57.0 * 1200 / 1100)
    # The longest focal length (narrowest footprint) of a mixed survey sets the reach.
    photos.append(photo("tele", None, focal=2200.0))
    assert footprint_reach(57.0, photos, min_overlap=0.0) == pytest.approx(57.0 * 1200 / 2200)
