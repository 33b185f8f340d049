"""Geo-registration on the stage's own models, against GPS made from the model's cameras.

The brighton model is a nadir drone flight; GPS "truth" is its cameras scaled to metres, turned
and shifted, so every expected position is known. Altitudes that drift, noisy or offset GPS and a
photo far from its GPS are made from that truth; a straight-line track or too little GPS leaves
the lund model alone.
"""

from __future__ import annotations

import numpy as np
import pycolmap
import pytest
from sfm_stage_runner import StageRun

from splatflow.contract.sfm_settings import Settings
from splatflow.stages.sfm.georegister import georegister
from splatflow.stages.sfm.photos import GpsPosition
from splatflow.stages.sfm.placement import gps_outliers
from splatflow.stages.sfm.upright import angle_deg, data_up

ORIGIN = GpsPosition(46.0, 7.0, 500.0)
TURN = np.radians(30)
ABOUT_Z = np.array([[np.cos(TURN), -np.sin(TURN), 0], [np.sin(TURN), np.cos(TURN), 0], [0, 0, 1]])


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


def truth_of(model: pycolmap.Reconstruction) -> dict[str, np.ndarray]:
    """The model's own cameras scaled to metres, turned about the vertical and shifted (it stands upright)."""
    return {name: 7.5 * ABOUT_Z @ centre + np.array([10.0, -20.0, 5.0]) for name, centre in centres(model).items()}


def with_noise(
    positions: dict[str, np.ndarray], seed: int, sigma_m: tuple[float, float, float]
) -> dict[str, np.ndarray]:
    """GPS as a receiver gives it: each position off by independent normal errors (east, north, up)."""
    rng = np.random.default_rng(seed)
    return {name: position + rng.normal(0.0, sigma_m) for name, position in positions.items()}


def mean_gaze_from_straight_down(model: pycolmap.Reconstruction) -> float:
    gaze = np.mean([image.viewing_direction().reshape(3) for image in model.images.values()], axis=0)
    return angle_deg(gaze, np.array([0.0, 0.0, -1.0]))


def ground_up(model: pycolmap.Reconstruction) -> np.ndarray:
    up = data_up(model)
    assert up is not None and up.ground is not None
    return up.ground


@pytest.mark.slow
def test_a_consistent_gps_track_moves_the_model_into_enu_metres(brighton_run: StageRun) -> None:
    model = load_model(brighton_run)
    truth = truth_of(model)
    result = georegister(model, gps_for(truth), Settings())
    assert result.registered and result.altitude_used
    summary = result.summary(Settings().gps_max_error_m)
    assert summary["gps_photos"] == summary["inliers"] == 18
    assert summary["rmse_m"] < 0.05
    assert result.gps_altitude_tilt_deg is not None and result.gps_altitude_tilt_deg < 2.0
    assert result.up_source == "viewing direction"
    assert result.origin is not None
    for name, centre in centres(model).items():
        # ENU positions are relative to the mean GPS position, which the result records.
        expected = truth[name] - np.mean(list(truth.values()), axis=0)
        assert np.allclose(centre, expected, atol=0.2), name
    assert gps_outliers(result, Settings()) == []


@pytest.mark.slow
def test_drifting_altitudes_leave_the_model_upright_and_placed_by_horizontal_gps(brighton_run: StageRun) -> None:
    """Each photo's altitude 6 m above the one before: about 100 m of climb over a level flight."""
    model = load_model(brighton_run)
    truth = truth_of(model)
    climb = {name: np.array([0.0, 0.0, 6.0 * index]) for index, name in enumerate(sorted(truth))}
    drifted = {name: position + climb[name] for name, position in truth.items()}
    full_fit = pycolmap.Reconstruction(model)
    ransac = pycolmap.RANSACOptions()
    ransac.max_error = 10.0
    names = sorted(truth)
    targets = np.array([drifted[name] for name in names])
    followed = pycolmap.align_reconstruction_to_locations(full_fit, names, targets, 3, ransac)
    assert followed is not None
    full_fit.transform(followed)
    # What a fit to every GPS coordinate does: the flight tilts to follow the climbing altitudes.
    assert mean_gaze_from_straight_down(full_fit) > 10.0

    # The stage's own model, aligned with the true altitudes: the reference for up.
    reference_ground_tilt = angle_deg(ground_up(model), np.array([0.0, 0.0, 1.0]))
    result = georegister(model, gps_for(drifted), Settings())
    assert result.registered and not result.altitude_used
    assert result.gps_altitude_tilt_deg is not None and result.gps_altitude_tilt_deg > 10.0
    assert result.tilt_deg is not None and result.tilt_deg < 0.01
    assert mean_gaze_from_straight_down(model) < 3.0
    # The ground (a beach, sloping about 3 degrees) leans as it did in the reference.
    assert result.ground_tilt_deg == pytest.approx(reference_ground_tilt, abs=1.0)
    mean = np.mean(list(drifted.values()), axis=0)
    for name, centre in centres(model).items():
        assert np.allclose(centre[:2], (truth[name] - mean)[:2], atol=0.3), name
    assert gps_outliers(result, Settings()) == []


@pytest.mark.slow
def test_noisy_or_offset_gps_keeps_every_photo(brighton_run: StageRun) -> None:
    model = load_model(brighton_run)
    truth = truth_of(model)
    noisy = with_noise(truth, seed=7, sigma_m=(3.0, 3.0, 5.0))
    result = georegister(pycolmap.Reconstruction(model), gps_for(noisy), Settings())
    assert result.registered
    assert gps_outliers(result, Settings()) == []
    shifted = {name: position + np.array([150.0, -80.0, 40.0]) for name, position in truth.items()}
    result = georegister(pycolmap.Reconstruction(model), gps_for(shifted), Settings())
    assert result.registered and result.altitude_used
    assert max(result.distance_m(name) for name in result.residuals) < 0.2
    assert gps_outliers(result, Settings()) == []


@pytest.mark.slow
def test_a_photo_far_from_its_gps_is_named_as_an_outlier(brighton_run: StageRun) -> None:
    model = load_model(brighton_run)
    noisy = with_noise(truth_of(model), seed=3, sigma_m=(2.0, 2.0, 3.0))
    far = sorted(noisy)[5]
    noisy[far] = noisy[far] + np.array([300.0, 120.0, 0.0])
    result = georegister(model, gps_for(noisy), Settings())
    assert result.registered
    (outlier,) = gps_outliers(result, Settings())
    assert outlier.name == far
    assert "from its GPS position" in outlier.reason
    assert result.without({far}).summary(10.0)["max_residual_m"] < 10.0


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
