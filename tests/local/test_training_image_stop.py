"""A training job stopped through the runner's StopTrainingJob keeps its work, in the 3dgs CPU image.

The runner stops a training container as SageMaker does (SIGTERM, a grace period, then SIGKILL;
API reference, StopTrainingJob), and syncs ``/opt/ml/checkpoints`` to the job's CheckpointConfig.
The training stage runs as the container's PID 1, where an unhandled SIGTERM is ignored: before
the stage handled it, the job was killed at the end of the grace period with no checkpoint newer
than its periodic ones. Here the periodic checkpoints are out of reach (``checkpoint_every`` far
past where the stop comes), so a checkpoint in S3 can only come from the stop.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from runner_support import training_request, unique, wait_for
from sample_sfm import make_sample_sfm_output

from splatflow.local.aws_clients import aws_client
from splatflow.local.config import RunnerSettings
from splatflow.local.containers.engine import Engine
from splatflow.local.containers.images import Builder, build_image, stage_images
from splatflow.local.runtime import EmbeddedRuntime, RuntimeSettings
from splatflow.pipeline.settings import PipelineSettings

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

REPO_ROOT = Path(__file__).resolve().parents[2]
BUCKET = "splatflow-train-stop"
GRACE_SECONDS = 120.0
"""SageMaker's window between SIGTERM and the end of the job."""
HYPERPARAMETERS = {
    "preset": "preview",
    "device": "cpu",
    "max_width": "64",
    "max_steps": "100000",
    "checkpoint_every": "100000",
    "eval_every": "100000",
    "progress_every": "5",
}


@pytest.fixture(scope="module")
def training_image(engine: Engine) -> str:
    """The 3dgs image for the CPU, built from its Dockerfile (the other stages' images are not needed)."""
    (image,) = stage_images(REPO_ROOT, PipelineSettings(), repositories=("3dgs",))
    build_image(Builder.for_engine(engine), image, REPO_ROOT)
    return image.reference


@pytest.fixture(scope="module")
def runtime(engine: Engine, training_image: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRuntime]:
    state = tmp_path_factory.mktemp("train-stop")
    runner = RunnerSettings(
        state_dir=state / "sagemaker",
        backend="docker",
        docker_host=engine.docker_host,
        stop_grace_seconds=GRACE_SECONDS,
        poll_seconds=0.2,
    )
    started = EmbeddedRuntime(
        RuntimeSettings(state_dir=state, aws_port=0, sagemaker_port=0, smtp_port=0, runner=runner)
    )
    started.start()
    s3 = aws_client("s3", started.aws_url, "us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    channel = make_sample_sfm_output(state / "sfm_ml")
    for path in sorted(p for p in channel.rglob("*") if p.is_file()):
        s3.upload_file(str(path), BUCKET, f"sfm/{path.relative_to(channel).as_posix()}")
    yield started
    started.stop()


def _log_text(runtime: EmbeddedRuntime, name: str) -> str:
    logs = aws_client("logs", runtime.aws_url, "us-east-1")
    try:
        streams = logs.describe_log_streams(logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=name)
    except logs.exceptions.ResourceNotFoundException:
        return ""  # no line written yet
    lines = []
    for stream in streams["logStreams"]:
        events = logs.get_log_events(
            logGroupName="/aws/sagemaker/TrainingJobs", logStreamName=stream["logStreamName"], startFromHead=True
        )
        lines += [event["message"] for event in events["events"]]
    return "\n".join(lines)


def _request(training_image: str, name: str, checkpoints: str, **hyperparameters: str) -> dict[str, Any]:
    request = training_request(
        name, {**HYPERPARAMETERS, **hyperparameters}, f"s3://{BUCKET}/sfm", f"s3://{BUCKET}/model", checkpoints
    )
    request["AlgorithmSpecification"]["TrainingImage"] = training_image
    request["EnableNetworkIsolation"] = True
    return request


def test_a_stopped_training_job_checkpoints_on_sigterm_and_its_retry_resumes(
    runtime: EmbeddedRuntime, training_image: str
) -> None:
    assert runtime.runner is not None
    sagemaker = aws_client("sagemaker", runtime.runner.url, "us-east-1")
    s3 = aws_client("s3", runtime.aws_url, "us-east-1")
    stem = unique("stop")
    checkpoints = f"s3://{BUCKET}/{stem}/checkpoints"
    sagemaker.create_training_job(**_request(training_image, f"{stem}-a", checkpoints))
    deadline = time.monotonic() + 600
    while "[train] step 10/" not in _log_text(runtime, f"{stem}-a"):
        assert time.monotonic() < deadline, "training never reached step 10"
        status = sagemaker.describe_training_job(TrainingJobName=f"{stem}-a")["TrainingJobStatus"]
        assert status == "InProgress", _log_text(runtime, f"{stem}-a")[-3000:]
        time.sleep(1)

    asked = time.monotonic()
    sagemaker.stop_training_job(TrainingJobName=f"{stem}-a")
    stopped = wait_for(lambda: sagemaker.describe_training_job(TrainingJobName=f"{stem}-a"), timeout=300)
    took = time.monotonic() - asked

    assert stopped["TrainingJobStatus"] == "Stopped"
    assert took < GRACE_SECONDS, f"the container was killed at the end of the grace period ({took:.0f} s)"
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{stem}/checkpoints/").get("Contents", [])
    names = [item["Key"].rsplit("/", 1)[1] for item in listed]
    assert len(names) == 1 and re.fullmatch(r"step-\d{7}\.pt", names[0]), names
    stopped_at = int(names[0][5:12])
    assert stopped_at >= 10
    assert f"training was stopped at step {stopped_at}" in _log_text(runtime, f"{stem}-a")

    sagemaker.create_training_job(**_request(training_image, f"{stem}-b", checkpoints))
    deadline = time.monotonic() + 600
    while f"resuming from checkpoint {names[0]}" not in (log_text := _log_text(runtime, f"{stem}-b")) or not re.search(
        r"\[train\] step (\d+)/", log_text
    ):
        assert time.monotonic() < deadline, log_text[-3000:]
        time.sleep(1)
    sagemaker.stop_training_job(TrainingJobName=f"{stem}-b")
    assert (
        wait_for(lambda: sagemaker.describe_training_job(TrainingJobName=f"{stem}-b"), timeout=300)["TrainingJobStatus"]
        == "Stopped"
    )
    resumed_steps = [int(step) for step in re.findall(r"\[train\] step (\d+)/", _log_text(runtime, f"{stem}-b"))]
    assert min(resumed_steps) > stopped_at, "the retry continued from the stopped step, not from 0"
