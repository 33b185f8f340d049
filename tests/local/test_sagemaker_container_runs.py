"""Jobs run in real containers, under a real engine, the way SageMaker runs them.

A probe image (``fake_stages/probe``) reports what it sees: its arguments, user, environment,
which folders it can write, its config files and its network. The same checks would fail
against the old ``docker run -v workspace:/opt/ml`` backend, which gave the container one
writable folder for everything.
"""

from __future__ import annotations

import io
import json
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from runner_support import processing_request, sagemaker_client, training_request, unique, wait_for

from splatflow.local.aws_clients import aws_client
from splatflow.local.config import RunnerSettings
from splatflow.local.containers.engine import Engine
from splatflow.local.containers.images import Builder, StageImage, build_image
from splatflow.local.runtime import EmbeddedRuntime, RuntimeSettings

pytestmark = pytest.mark.slow

PROBE_FOLDER = Path(__file__).parent / "fake_stages" / "probe"
PROBE_IMAGE = "000000000000.dkr.ecr.us-east-1.amazonaws.com/splatflow/probe:test"
NON_ROOT_PROBE_IMAGE = "000000000000.dkr.ecr.us-east-1.amazonaws.com/splatflow/probe:non-root"
BUCKET = "splatflow-container-test"


@pytest.fixture(scope="module")
def probe_images(engine: Engine) -> None:
    builder = Builder.for_engine(engine)
    for reference, dockerfile in ((PROBE_IMAGE, "Dockerfile"), (NON_ROOT_PROBE_IMAGE, "non-root.Dockerfile")):
        build_image(builder, StageImage("probe", reference, PROBE_FOLDER / dockerfile), PROBE_FOLDER)


@pytest.fixture(scope="module")
def container_runtime(
    engine: Engine, probe_images: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EmbeddedRuntime]:
    state = tmp_path_factory.mktemp("container-runtime")
    runner = RunnerSettings(
        state_dir=state / "sagemaker",
        backend="docker",
        docker_host=engine.docker_host,
        max_parallel_jobs=2,
        stop_grace_seconds=20.0,
        poll_seconds=0.05,
    )
    runtime = EmbeddedRuntime(
        RuntimeSettings(state_dir=state, aws_port=0, sagemaker_port=0, smtp_port=0, runner=runner)
    )
    runtime.start()
    aws_client("s3", runtime.aws_url, "us-east-1").create_bucket(Bucket=BUCKET)
    yield runtime
    runtime.stop()


@pytest.fixture
def sagemaker(container_runtime: EmbeddedRuntime) -> Any:
    assert container_runtime.runner is not None
    return sagemaker_client(container_runtime.runner.url)


@pytest.fixture
def s3(container_runtime: EmbeddedRuntime) -> Any:
    return aws_client("s3", container_runtime.aws_url, "us-east-1")


def _put(s3: Any, key: str, body: bytes) -> str:
    s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    return f"s3://{BUCKET}/{key}"


def _probe_processing(name: str, s3: Any, image: str = PROBE_IMAGE, arguments: list[str] | None = None) -> dict:
    input_uri = _put(s3, f"{name}/in/photos.zip", b"zip")
    request = processing_request(name, arguments or [], input_uri, f"s3://{BUCKET}/{name}/out")
    request["AppSpecification"]["ImageUri"] = image
    request["ProcessingInputs"][0]["S3Input"]["LocalPath"] = "/opt/ml/processing/input/photos"
    request["NetworkConfig"] = {"EnableNetworkIsolation": True}
    return request


def _probe_training(name: str, s3: Any, hyperparameters: dict[str, str] | None = None) -> dict:
    channel = _put(s3, f"{name}/sfm/cameras.json", b"{}")
    request = training_request(
        name,
        hyperparameters or {},
        channel.rsplit("/", 1)[0],
        f"s3://{BUCKET}/{name}/train",
        f"s3://{BUCKET}/{name}/ck",
    )
    request["AlgorithmSpecification"]["TrainingImage"] = PROBE_IMAGE
    request["EnableNetworkIsolation"] = True
    request["Environment"] = {"GREETING": "hello"}
    return request


def _model_report(s3: Any, uri: str) -> dict[str, Any]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    with tarfile.open(fileobj=io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read())) as archive:
        member = archive.extractfile("report.json")
        assert member is not None
        report: dict[str, Any] = json.load(member)
    return report


def test_a_training_job_sees_what_sagemaker_gives_a_training_container(sagemaker: Any, s3: Any) -> None:
    name = unique("probe-train")
    sagemaker.create_training_job(**_probe_training(name, s3))

    job = wait_for(lambda: sagemaker.describe_training_job(TrainingJobName=name), timeout=120)

    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    report = _model_report(s3, job["ModelArtifacts"]["S3ModelArtifacts"])
    assert report["argv"] == ["train"], "SageMaker starts a training image as `docker run <image> train`"
    assert report["uid"] == 0
    assert report["environment"] == {"TRAINING_JOB_NAME": name, "TRAINING_JOB_ARN": job["TrainingJobArn"]} | {
        "GREETING": "hello"
    }
    assert report["writable"] == {
        "/opt/ml/model": "yes",
        "/opt/ml/output": "yes",
        "/opt/ml/checkpoints": "yes",
        "/opt/ml/input/config": "EROFS",
        "/opt/ml/input/data/sfm": "EROFS",
    }
    assert report["config_files"] == [
        "/opt/ml/input/config/hyperparameters.json",
        "/opt/ml/input/config/inputdataconfig.json",
        "/opt/ml/input/config/resourceconfig.json",
    ]
    assert report["resource_config"]["current_host"] == "algo-1"
    assert report["network_interfaces"] == ["lo"], "network isolation leaves the container no network"
    assert report["internet"] != "reachable"


def test_a_processing_job_runs_the_image_entrypoint_with_its_arguments_and_read_only_inputs(
    sagemaker: Any, s3: Any
) -> None:
    name = unique("probe-processing")
    sagemaker.create_processing_job(**_probe_processing(name, s3, arguments=["--image_max_size", "640"]))

    job = wait_for(lambda: sagemaker.describe_processing_job(ProcessingJobName=name), timeout=120)

    assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")
    report = json.loads(s3.get_object(Bucket=BUCKET, Key=f"{name}/out/report.json")["Body"].read())
    assert report["argv"] == ["--image_max_size", "640"]
    assert report["environment"] == {"GREETING": "hello"}
    assert report["writable"] == {
        "/opt/ml/output": "yes",
        "/opt/ml/config": "EROFS",
        "/opt/ml/processing/input/photos": "EROFS",
        "/opt/ml/processing/output": "yes",
    }
    assert report["config_files"] == ["/opt/ml/config/processingjobconfig.json", "/opt/ml/config/resourceconfig.json"]
    assert report["network_interfaces"] == ["lo"]


def test_without_network_isolation_the_container_has_a_network(sagemaker: Any, s3: Any) -> None:
    name = unique("probe-network")
    request = _probe_processing(name, s3)
    request["NetworkConfig"] = {"EnableNetworkIsolation": False}
    sagemaker.create_processing_job(**request)

    job = wait_for(lambda: sagemaker.describe_processing_job(ProcessingJobName=name), timeout=120)

    assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")
    report = json.loads(s3.get_object(Bucket=BUCKET, Key=f"{name}/out/report.json")["Body"].read())
    assert report["network_interfaces"] != ["lo"]


def test_an_image_whose_user_is_not_root_cannot_write_what_sagemaker_mounts(sagemaker: Any, s3: Any) -> None:
    # The failure the old pipeline met on SageMaker ("built successfully but failed at runtime"):
    # the folders exist, owned by root, and an unprivileged user can write neither its outputs nor
    # its failure reason.
    name = unique("probe-non-root")
    sagemaker.create_processing_job(**_probe_processing(name, s3, image=NON_ROOT_PROBE_IMAGE))

    job = wait_for(lambda: sagemaker.describe_processing_job(ProcessingJobName=name), timeout=120)

    assert job["ProcessingJobStatus"] == "Failed"
    assert "ExitMessage" not in job, "it could not even write its message"
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{name}/out/")


def test_a_missing_image_fails_the_job_naming_it_and_how_to_build_it(sagemaker: Any, s3: Any) -> None:
    name = unique("probe-missing")
    missing = "000000000000.dkr.ecr.us-east-1.amazonaws.com/splatflow/no-such-stage:test"
    sagemaker.create_processing_job(**_probe_processing(name, s3, image=missing))

    job = wait_for(lambda: sagemaker.describe_processing_job(ProcessingJobName=name), timeout=60)

    assert job["ProcessingJobStatus"] == "Failed"
    assert missing in job["FailureReason"] and "python -m splatflow.local images" in job["FailureReason"]


def _log_text(container_runtime: EmbeddedRuntime, group: str, name: str) -> str:
    logs = aws_client("logs", container_runtime.aws_url, "us-east-1")
    streams = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=f"{name}/")["logStreams"]
    events = logs.get_log_events(logGroupName=group, logStreamName=streams[0]["logStreamName"])["events"]
    return "\n".join(event["message"] for event in events)


def _wait_for_line(container_runtime: EmbeddedRuntime, group: str, name: str, line: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if line in _log_text(container_runtime, group, name):
                return
        except (IndexError, ClientError):
            pass  # the job has not started logging yet
        time.sleep(0.2)
    raise TimeoutError(f"{name} never logged {line!r}")


def test_a_stopped_training_job_gets_sigterm_and_a_processing_job_sigint(
    container_runtime: EmbeddedRuntime, sagemaker: Any, s3: Any
) -> None:
    training = unique("probe-stop-train")
    processing = unique("probe-stop-processing")
    sagemaker.create_training_job(**_probe_training(training, s3, {"mode": "wait"}))
    sagemaker.create_processing_job(**_probe_processing(processing, s3, arguments=["wait"]))
    _wait_for_line(container_runtime, "/aws/sagemaker/TrainingJobs", training, "waiting for a signal")
    _wait_for_line(container_runtime, "/aws/sagemaker/ProcessingJobs", processing, "waiting for a signal")

    sagemaker.stop_training_job(TrainingJobName=training)
    sagemaker.stop_processing_job(ProcessingJobName=processing)

    trained = wait_for(lambda: sagemaker.describe_training_job(TrainingJobName=training), timeout=60)
    processed = wait_for(lambda: sagemaker.describe_processing_job(ProcessingJobName=processing), timeout=60)
    assert trained["TrainingJobStatus"] == processed["ProcessingJobStatus"] == "Stopped"
    assert "received SIGTERM" in _log_text(container_runtime, "/aws/sagemaker/TrainingJobs", training)
    assert "received SIGINT" in _log_text(container_runtime, "/aws/sagemaker/ProcessingJobs", processing)
