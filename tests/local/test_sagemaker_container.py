"""The ``docker run`` command a job becomes: SageMaker's way of starting an image, point by point."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from splatflow.contract.instances import is_gpu_instance
from splatflow.contract.sfm_settings import Settings as SfmSettings
from splatflow.contract.train_settings import PRESETS
from splatflow.local.sagemaker.container import container_command
from splatflow.local.sagemaker.job_plans import plan_for, prepare_workspace
from splatflow.local.sagemaker.job_records import JobRecord
from splatflow.local.sagemaker.workspace import Workspace
from splatflow.pipeline.requests import build_sfm_request, build_training_request
from splatflow.pipeline.settings import PipelineSettings

RUN_ID = "manual__2026-11-28T05:00:00+00:00"
SETTINGS = PipelineSettings()


def _training_record(**changes: Any) -> JobRecord:
    request = build_training_request(
        SETTINGS,
        PRESETS["preview"],
        run_id=RUN_ID,
        sfm_uri="s3://work/runs/1/sfm/",
        output_uri="s3://work/runs/1/train/",
        checkpoint_uri="s3://work/runs/1/checkpoints/",
    )
    request.update(changes)
    return JobRecord("training", request["TrainingJobName"], "us-east-1", request)


def _processing_record() -> JobRecord:
    request = build_sfm_request(
        SETTINGS, SfmSettings(), run_id=RUN_ID, zip_uri="s3://up/a.zip", output_uri="s3://work/runs/1/sfm/"
    )
    return JobRecord("processing", request["ProcessingJobName"], "us-east-1", request)


def _mounts(argv: list[str]) -> dict[str, str]:
    """Container path -> mode, from the ``-v source:target:mode`` arguments."""
    found = {}
    for flag, value in itertools.pairwise(argv):
        if flag == "-v":
            _, target, mode = value.rsplit(":", 2)
            found[target] = mode
    return found


def _environment(argv: list[str]) -> dict[str, str]:
    pairs = [value for flag, value in itertools.pairwise(argv) if flag == "-e"]
    return dict(pair.split("=", 1) for pair in pairs)


def test_a_training_job_starts_as_docker_run_image_train(tmp_path: Path) -> None:
    record = _training_record()
    workspace = Workspace.create(tmp_path, record.name)

    command = container_command(plan_for(record), workspace, record.name, {}, gpus=False)

    image = SETTINGS.image_uri("3dgs")
    assert command.argv[:2] == ["docker", "run"]
    assert command.argv[command.argv.index(image) :] == [image, "train"]
    assert "--entrypoint" not in command.argv, "the image's own ENTRYPOINT runs"
    assert "--user" not in command.argv and "-u" not in command.argv, "the image's own USER runs"
    assert command.argv[command.argv.index("--pull") + 1] == "never", "a missing image fails, nothing is pulled"


def test_training_inputs_are_read_only_and_outputs_writable(tmp_path: Path) -> None:
    record = _training_record()
    workspace = Workspace.create(tmp_path, record.name)

    argv = container_command(plan_for(record), workspace, record.name, {}, gpus=False).argv

    assert _mounts(argv) == {
        "/opt/ml/input/config": "ro",
        "/opt/ml/input/data/sfm": "ro",
        "/opt/ml/model": "rw",
        "/opt/ml/output": "rw",
        "/opt/ml/checkpoints": "rw",
    }
    for source in (value.split(":")[0] for flag, value in itertools.pairwise(argv) if flag == "-v"):
        assert Path(source).is_dir(), "every mounted folder exists before the container starts"


def test_training_gets_sagemakers_environment_variables_and_its_request_environment(tmp_path: Path) -> None:
    record = _training_record(Environment={"SPLATFLOW_LOG_LEVEL": "DEBUG"})
    workspace = Workspace.create(tmp_path, record.name)

    argv = container_command(plan_for(record), workspace, record.name, {}, gpus=False).argv

    assert _environment(argv) == {
        "SPLATFLOW_LOG_LEVEL": "DEBUG",
        "TRAINING_JOB_NAME": record.name,
        "TRAINING_JOB_ARN": record.arn,
    }


def test_training_config_files_follow_the_documented_shapes(tmp_path: Path) -> None:
    record = _training_record()
    workspace = Workspace.create(tmp_path, record.name)
    plan = plan_for(record)

    prepare_workspace(plan, workspace)

    config = workspace.root / "input" / "config"
    assert (config / "hyperparameters.json").is_file()
    assert plan.config_files["/opt/ml/input/config/inputdataconfig.json"] == {
        "sfm": {"TrainingInputMode": "File", "S3DistributionType": "FullyReplicated", "RecordWrapperType": "None"}
    }
    resources = plan.config_files["/opt/ml/input/config/resourceconfig.json"]
    assert resources["current_host"] == "algo-1" and resources["hosts"] == ["algo-1"]
    assert resources["current_instance_type"] == SETTINGS.train.instance_type


def test_container_entrypoint_and_arguments_replace_the_image_entrypoint_and_train(tmp_path: Path) -> None:
    record = _training_record()
    record.request["AlgorithmSpecification"] |= {
        "ContainerEntrypoint": ["python", "-m", "probe"],
        "ContainerArguments": ["--fast"],
    }
    workspace = Workspace.create(tmp_path, record.name)

    argv = container_command(plan_for(record), workspace, record.name, {}, gpus=False).argv

    image = SETTINGS.image_uri("3dgs")
    assert argv[argv.index("--entrypoint") + 1] == "python"
    assert argv[argv.index(image) :] == [image, "-m", "probe", "--fast"]


def test_a_processing_job_runs_the_image_entrypoint_with_its_arguments(tmp_path: Path) -> None:
    record = _processing_record()
    arguments = record.request["AppSpecification"]["ContainerArguments"]
    workspace = Workspace.create(tmp_path, record.name)

    argv = container_command(plan_for(record), workspace, record.name, {}, gpus=False).argv

    image = SETTINGS.image_uri("sfm")
    assert arguments and argv[argv.index(image) :] == [image, *arguments]
    assert _mounts(argv) == {
        "/opt/ml/config": "ro",
        "/opt/ml/output": "rw",
        "/opt/ml/processing/input/photos": "ro",
        "/opt/ml/processing/output": "rw",
    }
    assert "TRAINING_JOB_NAME" not in _environment(argv)


@pytest.mark.parametrize(("isolated", "expected"), [(True, ["--network", "none"]), (False, [])])
def test_network_isolation_leaves_the_container_without_a_network(
    tmp_path: Path, isolated: bool, expected: list[str]
) -> None:
    record = _training_record(EnableNetworkIsolation=isolated)
    workspace = Workspace.create(tmp_path, record.name)

    argv = container_command(plan_for(record), workspace, record.name, {}, gpus=False).argv

    found = argv[argv.index("--network") : argv.index("--network") + 2] if "--network" in argv else []
    assert found == expected


@pytest.mark.parametrize(
    ("instance_type", "host_gpus", "expected"),
    [("ml.g4dn.xlarge", True, True), ("ml.g4dn.xlarge", False, False), ("ml.c6i.2xlarge", True, False)],
)
def test_only_a_gpu_instance_type_gets_the_hosts_gpus(
    tmp_path: Path, instance_type: str, host_gpus: bool, expected: bool
) -> None:
    record = _training_record()
    record.request["ResourceConfig"]["InstanceType"] = instance_type
    workspace = Workspace.create(tmp_path, record.name)

    argv = container_command(plan_for(record), workspace, record.name, {}, gpus=host_gpus).argv

    assert ("--gpus" in argv) is expected


@pytest.mark.parametrize(
    ("instance_type", "expected"),
    [("ml.g4dn.xlarge", True), ("ml.p4d.24xlarge", True), ("ml.c6i.4xlarge", False), ("ml.m5.large", False)],
)
def test_gpu_instance_families(instance_type: str, expected: bool) -> None:
    assert is_gpu_instance(instance_type) is expected
