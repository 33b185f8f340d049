"""Publishing: a succeeded manifest is kept when a finished run is cleared, unless its stages
ran again since (a run cleared whole before its email went out), whose new outputs it must describe."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from splatflow.pipeline.layout import RunLayout
from splatflow.pipeline.publishing import publish_run, stage_job_names
from splatflow.pipeline.records import read_json
from splatflow.pipeline.run_plan import PreparedRun
from splatflow.pipeline.s3_locations import S3Location
from splatflow.pipeline.settings import PipelineSettings
from splatflow.pipeline.submission import Submission

WORK = "work"
LAYOUT = RunLayout(WORK, "runs/r1")
SUBMISSION = Submission(email="pilot@example.com", steps="compress_only", model=S3Location(WORK, "models/splat.ply"))
SETTINGS = PipelineSettings(work_bucket=WORK)


def _compression_job(name: str, generation: int = 0) -> dict[str, Any]:
    """A DescribeProcessingJob response of a finished compression job of the run's ``generation``."""
    output = LAYOUT.in_generation(generation).compress_output
    return {
        "ProcessingJobName": name,
        "ProcessingOutputConfig": {"Outputs": [{"OutputName": "compress", "S3Output": {"S3Uri": output}}]},
        "ProcessingJobStatus": "Completed",
        "ProcessingResources": {"ClusterConfig": {"InstanceType": "ml.c6i.4xlarge", "InstanceCount": 1}},
        "ProcessingStartTime": datetime(2026, 11, 22, 10, 0, tzinfo=UTC),
        "ProcessingEndTime": datetime(2026, 11, 22, 10, 2, tzinfo=UTC),
    }


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=WORK)
        for name in ("scene.sog", "splat.ply"):
            client.put_object(Bucket=WORK, Key=LAYOUT.key("compress", name), Body=b"first")
        yield client


def _manifest_object(s3: Any) -> tuple[str, datetime]:
    head = s3.head_object(Bucket=WORK, Key=LAYOUT.manifest_key)
    return head["ETag"], head["LastModified"]


def test_stage_job_names_are_read_from_the_descriptions() -> None:
    assert stage_job_names({"compress": _compression_job("splat-r1-compress")}) == {"compress": "splat-r1-compress"}


def test_a_published_run_cleared_with_the_same_jobs_keeps_its_manifest(s3: Any) -> None:
    prepared = PreparedRun("r1", SUBMISSION, LAYOUT)
    first = publish_run(prepared, SETTINGS, s3, {"compress": _compression_job("splat-r1-compress")})
    written = _manifest_object(s3)

    again = publish_run(prepared, SETTINGS, s3, {"compress": _compression_job("splat-r1-compress")})

    assert again == first
    assert _manifest_object(s3) == written


def test_a_run_whose_stages_ran_again_before_delivery_is_published_anew(s3: Any) -> None:
    prepared = PreparedRun("r1", SUBMISSION, LAYOUT)
    publish_run(prepared, SETTINGS, s3, {"compress": _compression_job("splat-r1-compress")})

    for name in ("scene.sog", "splat.ply"):
        s3.put_object(Bucket=WORK, Key=LAYOUT.in_generation(1).stage_key("compress", name), Body=b"second")
    cleared = publish_run(prepared, SETTINGS, s3, {"compress": _compression_job("splat-r1-compress-c1", 1)})

    assert cleared["stages"]["compress"]["job_name"] == "splat-r1-compress-c1"
    linked = {name: cleared["outputs"][name] for name in ("sog", "ply", "viewer")}
    assert all("/runs/r1/c1/compress/" in str(location) for location in linked.values()), linked
    stored = read_json(s3, WORK, LAYOUT.manifest_key)
    assert stored is not None and stored["stages"]["compress"]["job_name"] == "splat-r1-compress-c1"


def test_a_delivered_run_keeps_its_manifest_whatever_the_jobs(s3: Any) -> None:
    first = publish_run(PreparedRun("r1", SUBMISSION, LAYOUT), SETTINGS, s3, {"compress": _compression_job("a")})
    written = _manifest_object(s3)

    kept = publish_run(PreparedRun("r1", SUBMISSION, LAYOUT, delivered=True), SETTINGS, s3, {})

    assert kept == first
    assert _manifest_object(s3) == written


def test_the_manifest_lists_the_spz_and_the_glb_the_compressor_wrote(s3: Any) -> None:
    for name in ("scene.spz", "scene.glb"):
        s3.put_object(Bucket=WORK, Key=LAYOUT.key("compress", name), Body=b"bytes")
    manifest = publish_run(PreparedRun("r1", SUBMISSION, LAYOUT), SETTINGS, s3, {})
    assert manifest["outputs"]["spz"] == f"s3://{WORK}/{LAYOUT.key('compress', 'scene.spz')}"
    assert manifest["outputs"]["glb"] == f"s3://{WORK}/{LAYOUT.key('compress', 'scene.glb')}"


def test_the_manifest_gives_the_size_of_each_file_the_compressor_wrote(s3: Any) -> None:
    s3.put_object(Bucket=WORK, Key=LAYOUT.key("compress", "scene.spz"), Body=b"x" * 1234)
    manifest = publish_run(PreparedRun("r1", SUBMISSION, LAYOUT), SETTINGS, s3, {})
    assert manifest["output_bytes"] == {"ply": len(b"first"), "sog": len(b"first"), "spz": 1234}


def test_the_streamed_bundle_is_listed_by_its_index_with_the_size_of_all_its_files(s3: Any) -> None:
    files = {"lod/lod-meta.json": 100, **{f"lod/{n}_0/{t}.webp": 10 for n in range(3) for t in ("means_l", "sh0")}}
    for name, size in files.items():
        s3.put_object(Bucket=WORK, Key=LAYOUT.key("compress", name), Body=b"x" * size)
    manifest = publish_run(PreparedRun("r1", SUBMISSION, LAYOUT), SETTINGS, s3, {})
    assert manifest["outputs"]["lod"] == f"s3://{WORK}/{LAYOUT.key('compress', 'lod/lod-meta.json')}"
    assert manifest["output_bytes"]["lod"] == 160


def test_every_output_is_found_past_the_first_listing_page(s3: Any) -> None:
    """A 3 M-splat bundle holds hundreds of files; sorted before them, scene.spz is listed after 1,000 keys."""
    for index in range(1001):
        s3.put_object(Bucket=WORK, Key=LAYOUT.key("compress", f"lod/0_{index:04d}/meta.json"), Body=b"x")
    s3.put_object(Bucket=WORK, Key=LAYOUT.key("compress", "scene.spz"), Body=b"x" * 7)
    manifest = publish_run(PreparedRun("r1", SUBMISSION, LAYOUT), SETTINGS, s3, {})
    assert manifest["output_bytes"]["spz"] == 7


def test_the_viewer_page_is_stored_gzipped_for_browsers_to_unpack(s3: Any) -> None:
    manifest = publish_run(PreparedRun("r1", SUBMISSION, LAYOUT), SETTINGS, s3, {})
    key = manifest["outputs"]["viewer"].removeprefix(f"s3://{WORK}/")
    stored = s3.get_object(Bucket=WORK, Key=key)
    assert stored["ContentEncoding"] == "gzip" and stored["ContentType"].startswith("text/html")
    page = gzip.decompress(stored["Body"].read())
    assert page.startswith(b"<!doctype html>") and len(page) > 3 * stored["ContentLength"]


TILE = {"file": "tile.glb", "bytes": 5, "centre": [1.0, 2.0, 3.0], "radius_m": 40.0}
FULL_RUN = Submission(email="pilot@example.com", input=S3Location("uploads", "survey.zip"))


def _reports(s3: Any, registration: dict[str, Any]) -> None:
    s3.put_object(Bucket=WORK, Key=LAYOUT.key("compress", "tile.glb"), Body=b"bytes")
    report = {"splats": 10, "formats": {"tile": TILE}}
    s3.put_object(Bucket=WORK, Key=LAYOUT.key("compress", "report.json"), Body=json.dumps(report).encode())
    sfm = {"georegistration": registration}
    s3.put_object(Bucket=WORK, Key=LAYOUT.key("sfm", "report.json"), Body=json.dumps(sfm).encode())


def test_a_geo_registered_run_delivers_a_tileset_placed_at_its_gps_origin(s3: Any) -> None:
    origin = {"latitude": 50.8, "longitude": -0.1, "altitude": 40.0}
    _reports(s3, {"registered": True, "reason": "aligned to GPS", "origin": origin})
    manifest = publish_run(PreparedRun("r1", FULL_RUN, LAYOUT), SETTINGS, s3, {})
    assert manifest["outputs"]["tileset"] == f"s3://{WORK}/{LAYOUT.key('compress', 'tileset.json')}"
    assert manifest["no_tileset"] is None and manifest["output_bytes"]["tile"] == 5
    tileset = read_json(s3, WORK, LAYOUT.key("compress", "tileset.json"))
    assert tileset is not None
    assert tileset["root"]["content"] == {"uri": "tile.glb"}, "the content lies beside the tileset"
    assert tileset["root"]["boundingVolume"] == {"sphere": [1.0, 2.0, 3.0, 40.0]}


def test_a_run_without_geo_registration_delivers_no_tileset_and_says_why(s3: Any) -> None:
    _reports(s3, {"registered": False, "reason": "only 2 photos carry GPS", "origin": None})
    manifest = publish_run(PreparedRun("r1", FULL_RUN, LAYOUT), SETTINGS, s3, {})
    assert "tileset" not in manifest["outputs"] and "tile" not in manifest["outputs"]
    assert "only 2 photos carry GPS" in manifest["no_tileset"]
    assert read_json(s3, WORK, LAYOUT.key("compress", "tileset.json")) is None


TRAINED = Submission(email="pilot@example.com", input=S3Location("uploads", "survey.zip"))
MODEL_FOLDER = LAYOUT.key("train", "splat-r1-train", "output", "model") + "/"


def _training_job(model_artifacts: str) -> dict[str, Any]:
    """A DescribeTrainingJob response of a finished training job of the run."""
    return {
        "TrainingJobName": "splat-r1-train",
        "TrainingJobStatus": "Completed",
        "ResourceConfig": {"InstanceType": "ml.g4dn.xlarge", "InstanceCount": 1},
        "TrainingTimeInSeconds": 60,
        "ModelArtifacts": {"S3ModelArtifacts": model_artifacts},
    }


def test_a_trained_runs_ply_is_linked_where_the_training_job_wrote_it(s3: Any) -> None:
    s3.delete_object(Bucket=WORK, Key=LAYOUT.key("compress", "splat.ply"))
    s3.put_object(Bucket=WORK, Key=MODEL_FOLDER + "splat.ply", Body=b"trained splat")
    jobs = {"train": _training_job(f"s3://{WORK}/{MODEL_FOLDER}"), "compress": _compression_job("c")}

    manifest = publish_run(PreparedRun("r1", TRAINED, LAYOUT), SETTINGS, s3, jobs)

    assert manifest["outputs"]["ply"] == f"s3://{WORK}/{MODEL_FOLDER}splat.ply"
    assert manifest["outputs"]["model"] == f"s3://{WORK}/{MODEL_FOLDER}"
    assert manifest["output_bytes"]["ply"] == len(b"trained splat")


def test_a_trained_run_whose_model_folder_holds_no_ply_is_not_published(s3: Any) -> None:
    s3.delete_object(Bucket=WORK, Key=LAYOUT.key("compress", "splat.ply"))
    jobs = {"train": _training_job(f"s3://{WORK}/{MODEL_FOLDER}"), "compress": _compression_job("c")}
    with pytest.raises(RuntimeError, match=f"no splat.ply in its model folder s3://{WORK}/{MODEL_FOLDER}"):
        publish_run(PreparedRun("r1", TRAINED, LAYOUT), SETTINGS, s3, jobs)
