"""Where the camera pointed: the gimbal's pitch and heading read from a photo's XMP packet."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from splatflow.stages.sfm.camera_view import CameraView, camera_view


def test_a_dji_packet_gives_the_gimbal_pitch_and_heading_written_as_attributes() -> None:
    packet = (
        b'<rdf:Description xmlns:drone-dji="http://www.dji.com/drone-dji/1.0/" '
        b'drone-dji:GimbalRollDegree="+0.00" drone-dji:GimbalYawDegree="-135.40" '
        b'drone-dji:GimbalPitchDegree="-45.00" drone-dji:FlightYawDegree="+20.00"/>'
    )
    assert camera_view(packet) == CameraView(pitch_deg=-45.0, yaw_deg=-135.4)


def test_the_same_tags_written_as_elements_are_read_too() -> None:
    packet = (
        "<drone-dji:GimbalPitchDegree>-30.5</drone-dji:GimbalPitchDegree>"
        "<drone-dji:GimbalYawDegree>90</drone-dji:GimbalYawDegree>"
    )
    assert camera_view(packet) == CameraView(pitch_deg=-30.5, yaw_deg=90.0)


@pytest.mark.parametrize(
    "packet",
    [
        None,
        b"",
        b'<x drone-dji:GimbalPitchDegree="-45.00"/>',  # no heading
        b'<x drone-dji:GimbalPitchDegree="-145" drone-dji:GimbalYawDegree="10"/>',  # no gimbal tilts so far
        b'<x drone-dji:GimbalPitchDegree="nan" drone-dji:GimbalYawDegree="10"/>',
        b'<x drone-dji:GimbalPitchDegree="level" drone-dji:GimbalYawDegree="10"/>',
        b'<x drone-dji:FlightPitchDegree="-45" drone-dji:FlightYawDegree="10"/>',  # the airframe, not the camera
    ],
)
def test_a_packet_without_a_usable_gimbal_pitch_and_heading_gives_no_view(packet: bytes | None) -> None:
    assert camera_view(packet) is None


def test_the_dji_survey_of_brighton_beach_looks_straight_down(datasets_dir: Path) -> None:
    with Image.open(datasets_dir / "brighton_beach" / "images" / "DJI_0018.JPG") as photo:
        view = camera_view(photo.info.get("xmp"))
    assert view == CameraView(pitch_deg=-89.9, yaw_deg=45.0)
