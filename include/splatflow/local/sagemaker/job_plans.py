"""What a job needs done around its container, derived from its request.

SageMaker does the same things for every job (download the inputs, write the config files, run
the image, upload the outputs); only where the request keeps them differs between Processing
and Training. A ``JobPlan`` is that difference, so the executor has one code path for both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from splatflow.local.sagemaker.job_records import TRAINING, JobRecord
from splatflow.local.sagemaker.workspace import Workspace

DEFAULT_CHECKPOINT_PATH = "/opt/ml/checkpoints"
HOST = "algo-1"
"""The one host of a single-instance job, as SageMaker names it in resourceconfig.json and log streams."""


@dataclass(frozen=True)
class Download:
    uri: str
    container_path: str


@dataclass(frozen=True)
class Upload:
    container_path: str
    uri: str
    as_tarball: bool = False
    """Pack the folder as one ``.tar.gz`` at ``uri`` (Training's ``model.tar.gz``)."""
    if_not_empty: bool = False


@dataclass(frozen=True)
class JobPlan:
    image: str
    arguments: list[str]
    environment: dict[str, str]
    """The request's ``Environment`` plus what SageMaker itself sets (``TRAINING_JOB_NAME``…)."""
    downloads: list[Download]
    uploads: list[Upload]
    read_only_paths: list[str]
    """Container folders the job only reads: its config files and every input channel."""
    writable_paths: list[str]
    """Container folders the job writes: outputs, model, checkpoints, ``/opt/ml/output``."""
    instance_type: str
    is_training: bool
    config_files: dict[str, Any] = field(default_factory=dict)
    """Container path -> JSON payload written before the job starts."""
    checkpoint: tuple[str, str] | None = None
    """(S3 URI, container path) kept in sync while a training job runs."""
    entrypoint: list[str] | None = None
    network_isolation: bool = False
    kms_key_id: str | None = None


def plan_for(record: JobRecord) -> JobPlan:
    return _training_plan(record) if record.kind is TRAINING else _processing_plan(record)


def _processing_plan(record: JobRecord) -> JobPlan:
    request = record.request
    app = request["AppSpecification"]
    downloads = [
        Download(item["S3Input"]["S3Uri"], item["S3Input"]["LocalPath"])
        for item in request.get("ProcessingInputs", [])
        if "S3Input" in item
    ]
    output_config = request.get("ProcessingOutputConfig") or {}
    uploads = [
        Upload(item["S3Output"]["LocalPath"], item["S3Output"]["S3Uri"])
        for item in output_config.get("Outputs", [])
        if "S3Output" in item
    ]
    network = request.get("NetworkConfig") or {}
    return JobPlan(
        image=app["ImageUri"],
        arguments=list(app.get("ContainerArguments", [])),
        environment=dict(request.get("Environment", {})),
        downloads=downloads,
        uploads=uploads,
        read_only_paths=["/opt/ml/config", *(download.container_path for download in downloads)],
        writable_paths=["/opt/ml/output", *(upload.container_path for upload in uploads)],
        instance_type=request["ProcessingResources"]["ClusterConfig"]["InstanceType"],
        is_training=False,
        config_files={
            "/opt/ml/config/processingjobconfig.json": request,
            "/opt/ml/config/resourceconfig.json": {"current_host": HOST, "hosts": [HOST]},
        },
        entrypoint=app.get("ContainerEntrypoint"),
        network_isolation=bool(network.get("EnableNetworkIsolation")),
        kms_key_id=output_config.get("KmsKeyId"),
    )


def _training_plan(record: JobRecord) -> JobPlan:
    request = record.request
    channels = request.get("InputDataConfig", [])
    downloads = [
        Download(channel["DataSource"]["S3DataSource"]["S3Uri"], f"/opt/ml/input/data/{channel['ChannelName']}")
        for channel in channels
        if "S3DataSource" in channel.get("DataSource", {})
    ]
    job_output = _job_output(record)
    if uploads_uncompressed(record):
        uploads = [
            Upload("/opt/ml/model", f"{job_output}/model/"),
            Upload("/opt/ml/output/data", f"{job_output}/data/", if_not_empty=True),
        ]
    else:
        uploads = [
            Upload("/opt/ml/model", f"{job_output}/model.tar.gz", as_tarball=True),
            Upload("/opt/ml/output/data", f"{job_output}/output.tar.gz", as_tarball=True, if_not_empty=True),
        ]
    checkpoint_config = request.get("CheckpointConfig")
    checkpoint = None
    if checkpoint_config:
        checkpoint = (
            checkpoint_config["S3Uri"],
            checkpoint_config.get("LocalPath") or DEFAULT_CHECKPOINT_PATH,
        )
    algorithm = request["AlgorithmSpecification"]
    input_data_config = {channel["ChannelName"]: _channel_description(channel, algorithm) for channel in channels}
    resources = request["ResourceConfig"]
    groups = resources.get("InstanceGroups") or [{}]
    instance_type = resources.get("InstanceType") or groups[0].get("InstanceType", "")
    return JobPlan(
        image=algorithm["TrainingImage"],
        arguments=list(algorithm.get("ContainerArguments", [])),
        environment={
            **request.get("Environment", {}),
            "TRAINING_JOB_NAME": record.name,
            "TRAINING_JOB_ARN": record.arn,
        },
        downloads=downloads,
        uploads=uploads,
        read_only_paths=["/opt/ml/input/config", *(download.container_path for download in downloads)],
        writable_paths=["/opt/ml/model", "/opt/ml/output", *([checkpoint[1]] if checkpoint else [])],
        instance_type=instance_type,
        is_training=True,
        config_files={
            "/opt/ml/input/config/hyperparameters.json": request.get("HyperParameters", {}),
            "/opt/ml/input/config/inputdataconfig.json": input_data_config,
            "/opt/ml/input/config/resourceconfig.json": {
                "current_host": HOST,
                "hosts": [HOST],
                "network_interface_name": "eth0",
                "current_instance_type": instance_type,
                "current_group_name": "homogeneousCluster",
                "instance_groups": [
                    {
                        "instance_group_name": "homogeneousCluster",
                        "instance_type": instance_type,
                        "hosts": [HOST],
                    }
                ],
            },
        },
        checkpoint=checkpoint,
        entrypoint=algorithm.get("ContainerEntrypoint"),
        network_isolation=bool(request.get("EnableNetworkIsolation")),
        kms_key_id=request["OutputDataConfig"].get("KmsKeyId"),
    )


def _channel_description(channel: dict[str, Any], algorithm: dict[str, Any]) -> dict[str, str]:
    """One channel's entry in ``inputdataconfig.json``, shaped as AWS's documented example."""
    source = channel.get("DataSource", {}).get("S3DataSource", {})
    description = {
        "TrainingInputMode": channel.get("InputMode") or algorithm.get("TrainingInputMode", "File"),
        "S3DistributionType": source.get("S3DataDistributionType", "FullyReplicated"),
        "RecordWrapperType": channel.get("RecordWrapperType", "None"),
    }
    for key in ("ContentType", "CompressionType"):
        if key in channel:
            description[key] = channel[key]
    return description


def uploads_uncompressed(record: JobRecord) -> bool:
    """``OutputDataConfig.CompressionType`` ``NONE``: the model folder's files are uploaded as they
    are, not packed into ``model.tar.gz`` (``GZIP``, the default). AWS, "Uncompressed model output"
    (https://docs.aws.amazon.com/sagemaker/latest/dg/model-train-storage-uncompressed.html) and
    ``API_OutputDataConfig``: "Select None to output an uncompressed model … Defaults to gzip."
    The request was checked against botocore's model first, so the value is one of the two."""
    return record.request["OutputDataConfig"].get("CompressionType", "GZIP") == "NONE"


def _job_output(record: JobRecord) -> str:
    output_path = record.request["OutputDataConfig"]["S3OutputPath"].rstrip("/")
    return f"{output_path}/{record.name}/output"


def model_artifacts_uri(record: JobRecord) -> str:
    """``ModelArtifacts.S3ModelArtifacts``: the ``model.tar.gz`` object, or for an uncompressed
    upload the ``output/model/`` prefix its files lie under."""
    if uploads_uncompressed(record):
        return f"{_job_output(record)}/model/"
    return f"{_job_output(record)}/model.tar.gz"


def prepare_workspace(plan: JobPlan, workspace: Workspace) -> None:
    for container_path, payload in plan.config_files.items():
        workspace.write_json(container_path, payload)
