"""``splat_pipeline`` end to end on the embedded runtime with the real stages (test-sized settings)."""

from __future__ import annotations

import json
from email.message import EmailMessage
from typing import Any

import pytest
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

from splatflow.local.runtime import EmbeddedRuntime
from splatflow.pipeline.submission import run_prefix

__all__ = ["pipeline_runtime"]

pytestmark = pytest.mark.slow

ADDRESS = "survey.team@example.com"


@pytest.fixture(scope="module")
def finished_run(pipeline_runtime: EmbeddedRuntime) -> tuple[Any, dict[str, Any], list[EmailMessage]]:
    upload(pipeline_runtime, "site 7/flight.zip", zip_photos(sorted(SAMPLE_PHOTOS.glob("*.JPG"))))
    url = f"https://{UPLOADS}.s3.us-east-1.amazonaws.com/site%207/flight.zip"
    run = run_pipeline({"s3_url": url, "email": ADDRESS, "preset": "preview"})
    prefix = run_prefix(WORK, run.run_id)
    body = s3_of(pipeline_runtime).get_object(Bucket=WORK, Key=prefix.key.rstrip("/") + "/manifest.json")["Body"]
    return run, json.loads(body.read()), mail_to(pipeline_runtime, ADDRESS)


def test_run_succeeds_with_one_result_email(finished_run: tuple[Any, dict[str, Any], list[EmailMessage]]) -> None:
    run, manifest, messages = finished_run
    assert run.state == "success"
    assert manifest["status"] == "succeeded"
    assert len(messages) == 1
    assert messages[0]["Subject"] == "Your 3D splat of flight.zip is ready"


def test_manifest_records_every_stage_and_the_figures(
    finished_run: tuple[Any, dict[str, Any], list[EmailMessage]],
) -> None:
    _, manifest, _ = finished_run
    assert set(manifest["stages"]) == {"sfm", "train", "compress"}
    assert all(stage["status"] == "Completed" for stage in manifest["stages"].values())
    quality = manifest["quality"]
    assert quality["photos_received"] == quality["photos_registered"] == 18
    assert quality["psnr_db"] > 5 and quality["gaussians"] > 0, "training figures reach the manifest"
    assert quality["sog_bytes"] < quality["ply_bytes"]
    assert manifest["total_cost_usd"] > 0


def test_manifest_is_the_last_object_written(
    pipeline_runtime: EmbeddedRuntime, finished_run: tuple[Any, dict[str, Any], list[EmailMessage]]
) -> None:
    run, manifest, _ = finished_run
    prefix = run_prefix(WORK, run.run_id).key
    objects = s3_of(pipeline_runtime).list_objects_v2(Bucket=WORK, Prefix=prefix)["Contents"]
    written = {item["Key"].removeprefix(prefix): item["LastModified"] for item in objects}
    outputs = {key: moment for key, moment in written.items() if key not in {"manifest.json", "delivered.json"}}
    assert {"compress/scene.sog", "compress/splat.ply", "compress/report.json"} <= set(outputs)
    assert written["manifest.json"] >= max(outputs.values())
    for uri in manifest["outputs"].values():
        assert uri.startswith(f"s3://{WORK}/{prefix}"), "outputs stay inside the run's own prefix"


def test_email_carries_figures_links_and_the_inline_preview(
    finished_run: tuple[Any, dict[str, Any], list[EmailMessage]],
) -> None:
    _, manifest, messages = finished_run
    html = html_of(messages[0])
    assert "View in 3D" in html and "scene.sog" in html and "splat.ply" in html
    assert "X-Amz-Expires=" in html, "download links are presigned"
    assert "/compress/viewer.html?" in html and "#sog=" in html, "View in 3D opens the run's own viewer page"
    assert f"{manifest['quality']['photos_registered']}" in html
    attachments = {part.get_filename(): part for part in messages[0].iter_attachments()}
    assert manifest["outputs"]["preview"].endswith("/compress/preview.png")
    for still in ("preview.png", "orbit_1.png", "orbit_2.png", "orbit_3.png"):
        assert attachments[still]["Content-ID"] == f"<{still}>"
        assert f'src="cid:{still}"' in html
