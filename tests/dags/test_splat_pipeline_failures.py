"""A failure at each stage of ``splat_pipeline`` ends the run failed, with an email naming it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from mail_structure import inline_pictures
from pipeline_support import (
    SAMPLE_PHOTOS,
    UPLOADS,
    WORK,
    html_of,
    mail_to,
    pipeline_runtime,
    run_pipeline,
    s3_of,
    upload,
    zip_photos,
)

from splatflow.local.aws_clients import aws_client
from splatflow.local.runtime import EmbeddedRuntime
from splatflow.pipeline.requests import job_name

__all__ = ["pipeline_runtime"]

pytestmark = pytest.mark.slow


def _manifests(runtime: EmbeddedRuntime) -> list[dict[str, Any]]:
    s3 = s3_of(runtime)
    listing = s3.list_objects_v2(Bucket=WORK, Prefix="runs/").get("Contents", [])
    keys = [item["Key"] for item in listing if item["Key"].endswith("/manifest.json")]
    return [json.loads(s3.get_object(Bucket=WORK, Key=key)["Body"].read()) for key in keys]


def _sagemaker(runtime: EmbeddedRuntime) -> Any:
    assert runtime.runner is not None
    return aws_client("sagemaker", runtime.runner.url, "us-east-1")


def _only_failure_email(runtime: EmbeddedRuntime, address: str) -> str:
    messages = mail_to(runtime, address)
    assert len(messages) == 1, [m["Subject"] for m in messages]
    assert "could not be made" in messages[0]["Subject"]
    assert inline_pictures(messages[0]) == {}, "text and HTML as alternatives, a Message-ID and a Date"
    html = html_of(messages[0])
    assert "Traceback" not in html
    return html


def test_bucket_off_the_allow_list_fails_at_the_input_check(pipeline_runtime: EmbeddedRuntime) -> None:
    run = run_pipeline({"s3_url": "s3://someone-elses-bucket/photos.zip", "email": "a.pilot@example.com"})
    assert run.state == "failed"
    html = _only_failure_email(pipeline_runtime, "a.pilot@example.com")
    assert "input check" in html and "someone-elses-bucket" in html


def test_a_file_with_no_upload_in_progress_fails_the_wait_after_its_grace(pipeline_runtime: EmbeddedRuntime) -> None:
    run = run_pipeline({"s3_url": f"s3://{UPLOADS}/never/uploaded.zip", "email": "b.pilot@example.com"})
    assert run.state == "failed"
    html = _only_failure_email(pipeline_runtime, "b.pilot@example.com")
    assert "never/uploaded.zip is not there and no upload of it is in progress" in html


def test_one_photo_fails_photo_alignment_with_the_stage_reason(pipeline_runtime: EmbeddedRuntime) -> None:
    photos = sorted(SAMPLE_PHOTOS.glob("*.JPG"))[:1]
    url = upload(pipeline_runtime, "one-photo.zip", zip_photos(photos))
    run = run_pipeline({"s3_url": url, "email": "c.pilot@example.com"})
    assert run.state == "failed"
    html = _only_failure_email(pipeline_runtime, "c.pilot@example.com")
    assert "photo alignment (SfM)" in html
    jobs = _sagemaker(pipeline_runtime).list_processing_jobs(NameContains=job_name(run.run_id, "sfm"))
    assert len(jobs["ProcessingJobSummaries"]) == 1, "a job that failed on its input must not be retried"
    failed = [m for m in _manifests(pipeline_runtime) if m["submission"]["email"] == "c.pilot@example.com"]
    assert [m["status"] for m in failed] == ["failed"]
    assert failed[0]["failure"]["stage"] == "sfm"


def test_model_missing_properties_fails_compression(pipeline_runtime: EmbeddedRuntime) -> None:
    bad_ply = b"ply\nformat binary_little_endian 1.0\nelement vertex 1\nproperty float x\nend_header\n\x00\x00\x00\x00"
    url = upload(pipeline_runtime, "models/bad.ply", bad_ply)
    run = run_pipeline({"steps": "compress_only", "model_url": url, "email": "d.pilot@example.com"})
    assert run.state == "failed"
    html = _only_failure_email(pipeline_runtime, "d.pilot@example.com")
    assert "compression" in html and "missing" in html


def test_unusable_sfm_output_fails_3d_training(pipeline_runtime: EmbeddedRuntime) -> None:
    upload(pipeline_runtime, "earlier-run/sfm/report.json", b'{"photos": {"registered": 0}}')
    url = f"s3://{UPLOADS}/earlier-run/sfm/"
    run = run_pipeline({"steps": "train_and_compress", "sfm_output_url": url, "email": "e.pilot@example.com"})
    assert run.state == "failed"
    html = _only_failure_email(pipeline_runtime, "e.pilot@example.com")
    assert "3D training" in html
    jobs = _sagemaker(pipeline_runtime).list_training_jobs(NameContains=job_name(run.run_id, "train"))
    assert len(jobs["TrainingJobSummaries"]) == 1, "a job that failed on its input must not be retried"


def test_a_typo_in_the_training_settings_fails_the_input_check_before_any_job(
    pipeline_runtime: EmbeddedRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = upload(pipeline_runtime, "typo/photos.zip", zip_photos(sorted(SAMPLE_PHOTOS.glob("*.JPG"))[:3]))
    monkeypatch.setenv("SPLATFLOW_TRAIN_HYPERPARAMETERS", json.dumps({"preset": "preview", "max_step": "40"}))
    run = run_pipeline({"s3_url": url, "email": "f.pilot@example.com"})
    assert run.state == "failed"
    html = _only_failure_email(pipeline_runtime, "f.pilot@example.com")
    assert "input check" in html and "SPLATFLOW_TRAIN_HYPERPARAMETERS" in html and "max_step" in html
    assert "forward this email to the operator" in html.lower()
    jobs = _sagemaker(pipeline_runtime).list_processing_jobs(NameContains=job_name(run.run_id, "sfm"))
    assert jobs["ProcessingJobSummaries"] == [], "no job starts before the settings are known to be usable"
