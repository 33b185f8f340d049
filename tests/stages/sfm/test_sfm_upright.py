"""The stage on the bundled sample whose EXIF altitudes drift: the model still comes out upright.

Each photo's GPS altitude is raised 6 m above the one before (about 100 m over a level flight),
as small drones' barometric altitudes drift. Fitted to every GPS coordinate, the model tilted to
follow the climb (its mean viewing direction 32.5 degrees from straight down); the stage now
stands it on its own up and takes only the horizontal GPS positions.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pycolmap
import pytest
from PIL import ExifTags, Image
from sfm_stage_runner import run_sfm_stage, zip_of

from splatflow.stages.sfm.upright import angle_deg

SAMPLE = Path(__file__).resolve().parents[3] / "data" / "sample" / "brighton_beach"
CLIMB_PER_PHOTO_M = 6.0


def with_altitude_raised(path: Path, metres: float) -> bytes:
    with Image.open(path) as photo:
        exif = photo.getexif()
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
        gps[ExifTags.GPS.GPSAltitude] = float(gps[ExifTags.GPS.GPSAltitude]) + metres
        buffer = io.BytesIO()
        photo.save(buffer, format="JPEG", quality=95, exif=exif)
    return buffer.getvalue()


@pytest.mark.slow
def test_drifting_gps_altitudes_leave_the_model_upright(tmp_path: Path) -> None:
    photos = sorted(SAMPLE.glob("*.JPG"))
    members = {path.name: with_altitude_raised(path, CLIMB_PER_PHOTO_M * index) for index, path in enumerate(photos)}
    run = run_sfm_stage(tmp_path, zip_of(members), "--image-max-size", "640")
    assert run.returncode == 0, run.log
    report = run.report()
    assert report["photos"]["registered"] == len(photos) == 18
    geo = report["georegistration"]
    assert geo["registered"] and not geo["altitude_used"]
    assert geo["gps_altitude_tilt_deg"] > 10.0
    assert geo["up_source"] == "viewing direction"
    assert geo["horizontal_rmse_m"] < 3.0
    # The drift shows where it belongs: in the vertical residuals, not in the model's attitude.
    assert geo["vertical_rmse_m"] > 20.0
    model = pycolmap.Reconstruction(run.output / "sparse")
    gaze = np.mean([image.viewing_direction().reshape(3) for image in model.images.values()], axis=0)
    assert angle_deg(gaze, np.array([0.0, 0.0, -1.0])) < 3.0
    # The beach under the cameras, z up: well below every camera.
    ground = np.median([point.xyz[2] for point in model.points3D.values()])
    assert min(image.projection_center()[2] for image in model.images.values()) - ground > 10.0
