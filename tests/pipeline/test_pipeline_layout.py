"""A run's stage folders are per generation (clear); its manifest and delivery record per run."""

from __future__ import annotations

from splatflow.pipeline.layout import RunLayout

RUN = RunLayout("work", "runs/abc")


def test_the_first_generation_keeps_the_plain_stage_folders():
    assert RUN.generation == 0
    assert RUN.sfm_output == "s3://work/runs/abc/sfm/"
    assert RUN.training_output == "s3://work/runs/abc/train/"
    assert RUN.checkpoints == "s3://work/runs/abc/checkpoints/"
    assert RUN.compress_output == "s3://work/runs/abc/compress/"


def test_a_cleared_generation_writes_every_stage_folder_apart_but_shares_the_manifest():
    cleared = RUN.in_generation(2)
    assert cleared.sfm_output == "s3://work/runs/abc/c2/sfm/"
    assert cleared.training_output == "s3://work/runs/abc/c2/train/"
    assert cleared.checkpoints == "s3://work/runs/abc/c2/checkpoints/"
    assert cleared.compress_output == "s3://work/runs/abc/c2/compress/"
    assert cleared.manifest_key == RUN.manifest_key == "runs/abc/manifest.json"
    assert cleared.delivery_key == RUN.delivery_key


def test_the_generation_travels_with_the_plan():
    assert RunLayout.from_dict(RUN.in_generation(3).to_dict()) == RUN.in_generation(3)
    assert RunLayout.from_dict({"bucket": "work", "prefix": "runs/abc"}) == RUN
