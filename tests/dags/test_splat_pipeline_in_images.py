"""``splat_pipeline`` end to end with every job in its own stage image, as SageMaker runs them.

The three images are built from their Dockerfiles (``built_stage_images``) and each job runs
under a real container engine: root-owned mounts, read-only inputs, no network, the images'
own entry points. The same submission also runs through the process backend, and both must
make the same outputs: a stage that only works in the development virtualenv fails here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from pipeline_support import SAMPLE_PHOTOS, WORK, mail_to, pipeline_environment, run_pipeline, s3_of, upload, zip_photos

from splatflow.local.containers.engine import Engine
from splatflow.local.containers.images import BuiltImage
from splatflow.local.runtime import EmbeddedRuntime
from splatflow.pipeline.submission import run_prefix

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

ADDRESS = "images@example.com"


@dataclass(frozen=True)
class FinishedRun:
    state: str
    manifest: dict[str, Any]
    sfm_report: dict[str, Any]
    objects: set[str]
    """Every object the run wrote under its prefix, relative to it."""
    messages: list[EmailMessage]
    job_logs: str


def _read_json(runtime: EmbeddedRuntime, uri: str) -> dict[str, Any]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    document: dict[str, Any] = json.loads(s3_of(runtime).get_object(Bucket=bucket, Key=key)["Body"].read())
    return document


def _run_sample(state: Path, engine: Engine | None) -> FinishedRun:
    with pipeline_environment(state, engine=engine) as runtime:
        url = upload(runtime, "site-9/flight.zip", zip_photos(sorted(SAMPLE_PHOTOS.glob("*.JPG"))))
        run = run_pipeline({"s3_url": url, "email": ADDRESS, "preset": "preview"})
        prefix = run_prefix(WORK, run.run_id).key
        manifest = _read_json(runtime, f"s3://{WORK}/{prefix}manifest.json")
        listing = s3_of(runtime).list_objects_v2(Bucket=WORK, Prefix=prefix)["Contents"]
        workspaces = state / "sagemaker" / "workspaces"
        return FinishedRun(
            state=str(run.state),
            manifest=manifest,
            sfm_report=_read_json(runtime, f"s3://{WORK}/{prefix}sfm/report.json"),
            objects={item["Key"].removeprefix(prefix) for item in listing},
            messages=mail_to(runtime, ADDRESS),
            job_logs="\n".join(log.read_text(encoding="utf-8") for log in sorted(workspaces.glob("*/job.log"))),
        )


@pytest.fixture(scope="module")
def in_images(
    engine: Engine, built_stage_images: list[BuiltImage], airflow_db: Path, tmp_path_factory: pytest.TempPathFactory
) -> FinishedRun:
    return _run_sample(tmp_path_factory.mktemp("in-images"), engine)


@pytest.fixture(scope="module")
def in_processes(airflow_db: Path, tmp_path_factory: pytest.TempPathFactory) -> FinishedRun:
    return _run_sample(tmp_path_factory.mktemp("in-processes"), None)


def test_the_run_succeeds_with_one_result_email(in_images: FinishedRun) -> None:
    assert in_images.state == "success", in_images.job_logs[-3000:]
    assert in_images.manifest["status"] == "succeeded"
    assert len(in_images.messages) == 1
    assert in_images.messages[0]["Subject"] == "Your 3D splat of flight.zip is ready"


def test_every_job_ran_in_its_image_not_in_this_virtualenv(in_images: FinishedRun) -> None:
    # The stages log their ML root at start: /opt/ml in a container, a workspace folder in a process.
    assert in_images.job_logs.count("starting (ml root /opt/ml)") == 3, in_images.job_logs[-3000:]


def test_images_make_the_same_outputs_as_processes(in_images: FinishedRun, in_processes: FinishedRun) -> None:
    assert in_processes.state == "success"
    assert in_images.objects == in_processes.objects
    assert set(in_images.manifest["outputs"]) == set(in_processes.manifest["outputs"])
    images_quality, processes_quality = in_images.manifest["quality"], in_processes.manifest["quality"]
    assert images_quality["photos_registered"] == processes_quality["photos_registered"] == 18
    assert in_images.sfm_report["photos"] == in_processes.sfm_report["photos"]
    assert in_images.sfm_report["points"] == pytest.approx(in_processes.sfm_report["points"], rel=0.02)
    assert images_quality["gaussians"] == pytest.approx(processes_quality["gaussians"], rel=0.05)
    assert images_quality["psnr_db"] == pytest.approx(processes_quality["psnr_db"], abs=1.0)
