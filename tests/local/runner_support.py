"""Helpers for the runner tests: an embedded runtime with the scripted stage as image 'scripted'."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config

from splatflow.local.aws_clients import aws_client
from splatflow.local.config import DEFAULT_STAGE_MODULES, RunnerSettings
from splatflow.local.runtime import EmbeddedRuntime, RuntimeSettings

FAKE_STAGES = Path(__file__).parent / "fake_stages"
SCRIPTED_IMAGE = "000000000000.dkr.ecr.us-east-1.amazonaws.com/splatflow/scripted:test"
ROLE_ARN = "arn:aws:iam::000000000000:role/splatflow-jobs"
BUCKET = "splatflow-test"


def runner_settings(state_dir: Path) -> RunnerSettings:
    return RunnerSettings(
        state_dir=state_dir,
        stage_modules={**DEFAULT_STAGE_MODULES, "scripted": "scripted_stage"},
        extra_python_path=(FAKE_STAGES,),
        backend="subprocess",
        max_parallel_jobs=4,
        stop_grace_seconds=2.0,
        poll_seconds=0.05,
        checkpoint_sync_seconds=0.2,
    )


@pytest.fixture(scope="session")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRuntime]:
    state = tmp_path_factory.mktemp("runtime")
    settings = RuntimeSettings(
        state_dir=state, aws_port=0, sagemaker_port=0, smtp_port=0, runner=runner_settings(state / "sagemaker")
    )
    embedded = EmbeddedRuntime(settings)
    embedded.start()
    aws_client("s3", embedded.aws_url, "us-east-1").create_bucket(Bucket=BUCKET)
    yield embedded
    embedded.stop()


@pytest.fixture
def s3(runtime: EmbeddedRuntime) -> Any:
    """The runtime's S3 with the runner's bucket in it, made again if it is gone: the runtime's moto
    shares its state with the process, and a ``mock_aws()`` of another test file run by the same
    process (pytest-xdist) clears that state when it ends."""
    client = aws_client("s3", runtime.aws_url, "us-east-1")
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture
def logs(runtime: EmbeddedRuntime) -> Any:
    return aws_client("logs", runtime.aws_url, "us-east-1")


def sagemaker_client(url: str, validate: bool = True) -> Any:
    import boto3

    return boto3.client(
        "sagemaker",
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(parameter_validation=validate, retries={"max_attempts": 1}),
    )


@pytest.fixture
def sagemaker(runtime: EmbeddedRuntime) -> Any:
    assert runtime.runner is not None
    return sagemaker_client(runtime.runner.url)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def processing_request(name: str, arguments: list[str], input_uri: str | None, output_uri: str) -> dict[str, Any]:
    request: dict[str, Any] = {
        "ProcessingJobName": name,
        "RoleArn": ROLE_ARN,
        "AppSpecification": {"ImageUri": SCRIPTED_IMAGE},
        "ProcessingResources": {
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.c6i.2xlarge", "VolumeSizeInGB": 30}
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
        "Environment": {"GREETING": "hello"},
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "out",
                    "S3Output": {
                        "S3Uri": output_uri,
                        "LocalPath": "/opt/ml/processing/output",
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ]
        },
    }
    if arguments:
        request["AppSpecification"]["ContainerArguments"] = arguments
    if input_uri:
        request["ProcessingInputs"] = [
            {
                "InputName": "in",
                "S3Input": {
                    "S3Uri": input_uri,
                    "LocalPath": "/opt/ml/processing/input",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            }
        ]
    return request


def training_request(
    name: str, hyperparameters: dict[str, str], channel_uri: str, output_uri: str, checkpoint_uri: str | None = None
) -> dict[str, Any]:
    request: dict[str, Any] = {
        "TrainingJobName": name,
        "RoleArn": ROLE_ARN,
        "AlgorithmSpecification": {"TrainingImage": SCRIPTED_IMAGE, "TrainingInputMode": "File"},
        "HyperParameters": hyperparameters,
        "InputDataConfig": [
            {
                "ChannelName": "sfm",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": channel_uri}},
            }
        ],
        "OutputDataConfig": {"S3OutputPath": output_uri},
        "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.g4dn.xlarge", "VolumeSizeInGB": 50},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }
    if checkpoint_uri:
        request["CheckpointConfig"] = {"S3Uri": checkpoint_uri}
    return request


def wait_for(describe: Any, timeout: float = 60.0) -> dict[str, Any]:
    """Poll a Describe call until the job leaves InProgress/Stopping."""
    deadline = time.monotonic() + timeout
    while True:
        response: dict[str, Any] = describe()
        status = response.get("ProcessingJobStatus") or response.get("TrainingJobStatus")
        if status not in {"InProgress", "Stopping"}:
            return response
        if time.monotonic() > deadline:
            raise TimeoutError(f"job still {status} after {timeout} s")
        time.sleep(0.1)
