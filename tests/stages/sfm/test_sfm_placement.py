"""Removing photos the model does not hold: on the stage's own lund model, one photo is stripped
of its points, named with the reason, and leaves the model without disturbing the others."""

from __future__ import annotations

import pycolmap
import pytest
from sfm_stage_runner import StageRun

from splatflow.contract.sfm_settings import Settings
from splatflow.stages.sfm.placement import poorly_observed, remove_photos


@pytest.mark.slow
def test_a_photo_left_with_too_few_points_is_named_and_removed(lund_run: StageRun) -> None:
    assert lund_run.returncode == 0, lund_run.log
    model = pycolmap.Reconstruction(lund_run.output / "sparse")
    assert poorly_observed(model, Settings()) == []
    weak = model.images[sorted(model.images)[10]]
    observed = [index for index, point in enumerate(weak.points2D) if point.has_point3D()]
    for index in observed[5:]:
        model.delete_observation(weak.image_id, index)
    others = {image.name: image.num_points3D for image in model.images.values() if image.name != weak.name}

    (removed,) = poorly_observed(model, Settings())
    assert removed.name == weak.name
    assert "rests on 5 3D point(s), fewer than 15" in removed.reason
    remove_photos(model, [removed])
    assert model.num_reg_images() == 28
    assert not model.images[weak.image_id].has_pose
    assert model.images[weak.image_id].num_points3D == 0
    # Points the photo shared lose one observation; every other photo keeps the ones it has.
    assert all(point.track.length() >= 2 for point in model.points3D.values())
    for image in model.images.values():
        if image.name != weak.name:
            assert image.num_points3D >= others[image.name] - 5
