"""The SfM stage in its image fails hostile ZIPs exactly as it does in a process.

The image carries its own Python, pycolmap wheel and file system; the checks that protect the
stage (ZIP bombs, zip-slip, corrupt photos) must hold there, with the same named reason, and
publish nothing.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hostile_zips import ZIPS

from splatflow.contract.sfm_settings import Settings as SfmSettings
from splatflow.local.aws_clients import aws_client
from splatflow.local.config import RunnerSettings
from splatflow.local.containers.engine import Engine
from splatflow.local.containers.images import StageImage
from splatflow.local.runtime import EmbeddedRuntime, RuntimeSettings
from splatflow.pipeline.requests import build_sfm_request
from splatflow.pipeline.settings import PipelineSettings

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

BUCKET = "splatflow-hostile"
SETTINGS = PipelineSettings()


def _runtime(state: Path, runner: RunnerSettings) -> EmbeddedRuntime:
    settings = RuntimeSettings(state_dir=state, aws_port=0, sagemaker_port=0, smtp_port=0, runner=runner)
    runtime = EmbeddedRuntime(settings)
    runtime.start()
    aws_client("s3", runtime.aws_url, "us-east-1").create_bucket(Bucket=BUCKET)
    return runtime


@pytest.fixture(scope="module")
def runtimes(
    engine: Engine, built_stage_images: list[StageImage], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, EmbeddedRuntime]]:
    """One runtime running jobs as processes, one running them in their images, side by side."""
    state = tmp_path_factory.mktemp("hostile")
    started = {
        "process": _runtime(state / "process", RunnerSettings(state / "process" / "sagemaker", max_parallel_jobs=2)),
        "image": _runtime(
            state / "image",
            RunnerSettings(
                state / "image" / "sagemaker", backend="docker", docker_host=engine.docker_host, max_parallel_jobs=2
            ),
        ),
    }
    yield started
    for runtime in started.values():
        runtime.stop()


def _sfm_job(runtime: EmbeddedRuntime, body: bytes) -> tuple[str, Any]:
    """Start the SfM stage on ``body`` as the pipeline would; (job name, sagemaker client)."""
    s3 = aws_client("s3", runtime.aws_url, "us-east-1")
    run_id = f"hostile-{uuid.uuid4().hex[:8]}"
    s3.put_object(Bucket=BUCKET, Key=f"{run_id}/photos.zip", Body=body)
    request = build_sfm_request(
        SETTINGS,
        SfmSettings(),
        run_id=run_id,
        zip_uri=f"s3://{BUCKET}/{run_id}/photos.zip",
        output_uri=f"s3://{BUCKET}/{run_id}/sfm",
    )
    assert runtime.runner is not None
    sagemaker = aws_client("sagemaker", runtime.runner.url, "us-east-1")
    sagemaker.create_processing_job(**request)
    return request["ProcessingJobName"], sagemaker


def _outcome(runtime: EmbeddedRuntime, name: str, sagemaker: Any) -> dict[str, Any]:
    deadline = time.monotonic() + 600
    while (job := sagemaker.describe_processing_job(ProcessingJobName=name))["ProcessingJobStatus"] == "InProgress":
        assert time.monotonic() < deadline, f"{name} still running"
        time.sleep(0.5)
    prefix = job["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"].removeprefix(f"s3://{BUCKET}/")
    listing = aws_client("s3", runtime.aws_url, "us-east-1").list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return {
        "status": job["ProcessingJobStatus"],
        "reason": job.get("ExitMessage", "").strip(),
        "published": listing.get("Contents"),
    }


@pytest.mark.parametrize("case", list(ZIPS))
def test_a_hostile_zip_fails_the_same_way_in_the_image_as_in_a_process(
    runtimes: dict[str, EmbeddedRuntime], case: str
) -> None:
    make, cause = ZIPS[case]
    body = make()
    started = {backend: (runtime, *_sfm_job(runtime, body)) for backend, runtime in runtimes.items()}

    outcomes = {backend: _outcome(*job) for backend, job in started.items()}

    image, process = outcomes["image"], outcomes["process"]
    assert image["status"] == process["status"] == "Failed"
    assert image["reason"] == process["reason"]
    assert image["reason"].startswith("sfm: ") and cause.lower() in image["reason"].lower()
    assert image["published"] is None and process["published"] is None
