"""Geo-registration on the stage's own models: a consistent GPS track over the brighton flight
moves it into ENU metres; a straight-line track or too little GPS leaves the lund model alone."""

from __future__ import annotations

import numpy as np
import pycolmap
import pytest
from sfm_stage_runner import StageRun

from splatflow.contract.sfm_settings import Settings
from splatflow.stages.sfm.georegister import georegister
from splatflow.stages.sfm.photos import GpsPosition

ORIGIN = GpsPosition(46.0, 7.0, 500.0)


def load_model(run: StageRun) -> pycolmap.Reconstruction:
    assert run.returncode == 0, run.log
    return pycolmap.Reconstruction(run.output / "sparse")


def centres(model: pycolmap.Reconstruction) -> dict[str, np.ndarray]:
    return {image.name: image.projection_center().reshape(3) for image in model.images.values()}


def gps_for(enu: dict[str, np.ndarray]) -> dict[str, GpsPosition]:
    names = list(enu)
    points = np.array([enu[name] for name in names])
    lat_lon_alt = pycolmap.GPSTransform().enu_to_ellipsoid(points, ORIGIN.latitude, ORIGIN.longitude, ORIGIN.altitude)
    return {name: GpsPosition(*map(float, row)) for name, row in zip(names, lat_lon_alt, strict=True)}


@pytest.mark.slow
def test_a_consistent_gps_track_moves_the_model_into_enu_metres(brighton_run: StageRun) -> None:
    model = load_model(brighton_run)
    # Ground truth: the model's own cameras scaled to metres, turned and shifted.
    angle = np.radians(30)
    rotation = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    truth = {name: 7.5 * rotation @ centre + np.array([10.0, -20.0, 5.0]) for name, centre in centres(model).items()}
    result = georegister(model, gps_for(truth), Settings())
    assert result.registered
    assert result.gps_photos == result.inliers == 18
    assert result.rmse_m is not None and result.rmse_m < 0.05
    assert result.origin is not None
    for name, centre in centres(model).items():
        # ENU positions are relative to the mean GPS position, which the result records.
        expected = truth[name] - np.mean(list(truth.values()), axis=0)
        assert np.allclose(centre, expected, atol=0.2), name


@pytest.mark.slow
def test_a_straight_line_track_is_not_used(lund_run: StageRun) -> None:
    model = load_model(lund_run)
    before = centres(model)
    line = {name: np.array([3.0 * index, 0.0, 0.0]) for index, name in enumerate(before)}
    result = georegister(model, gps_for(line), Settings())
    assert not result.registered
    assert "one line" in result.reason
    assert all(np.allclose(before[name], centre) for name, centre in centres(model).items())


@pytest.mark.slow
def test_too_few_gps_photos_or_the_setting_off_leave_the_model_alone(lund_run: StageRun) -> None:
    model = load_model(lund_run)
    two = dict(list(gps_for(centres(model)).items())[:2])
    assert georegister(model, two, Settings()).reason == "2 registered photos carry GPS (need 3)"
    assert not georegister(model, gps_for(centres(model)), Settings(georegister=False)).registered
