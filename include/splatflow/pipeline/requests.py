"""Pure builders of the SageMaker job requests, one per stage.

They return the boto3-shaped dicts the provider operators pass to ``CreateProcessingJob`` and
``CreateTrainingJob``; tests validate every one against botocore's SageMaker model (the old
pipeline's requests were rejected in the cloud for a missing field). No AWS call happens here.
Each request carries its stage's typed settings (``splatflow.contract``) whole, in the string
form the stage parses back: what a job ran with is on its record.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from typing import Any, Literal

from splatflow.contract.compress_settings import Settings as CompressSettings
from splatflow.contract.hyperparameters import to_container_arguments, to_hyperparameters
from splatflow.contract.instances import is_gpu_instance
from splatflow.contract.paths import CONTAINER, SFM_CHANNEL
from splatflow.contract.sfm_settings import Settings as SfmSettings
from splatflow.contract.train_settings import Settings as TrainSettings
from splatflow.pipeline.settings import PipelineSettings, StageResources

JOB_NAME_BASE_MAX = 46
"""SageMaker allows 63 characters; the operators append ``-c<clear number>`` (up to 6 characters)
to a cleared run's jobs and ``-<10-digit timestamp>`` on a retry."""

SFM_REPOSITORY = "sfm"
TRAIN_REPOSITORY = "3dgs"
COMPRESS_REPOSITORY = "compressor"


def job_name(run_id: str, stage: str) -> str:
    """A job name unique to the run and stage, within SageMaker's pattern and length.

    Readable (the date and the stage show in the console) and unique (a hash of the whole run
    id), so two runs never collide and a task retry only needs the operator's timestamp suffix.
    """
    digest = hashlib.sha256(run_id.encode()).hexdigest()[:10]
    readable = re.sub(r"[^a-zA-Z0-9]+", "-", run_id).strip("-").lower()
    suffix = f"-{digest}-{stage}"
    stem = f"splat-{readable}"[: JOB_NAME_BASE_MAX - len(suffix)].rstrip("-")
    return f"{stem}{suffix}"


def training_device(instance_type: str) -> Literal["cuda", "cpu"]:
    """The training stage's ``device`` for an instance type: ``cuda`` on a GPU instance, where
    the stage then fails at once if CUDA cannot start instead of training for hours on the CPU,
    and ``cpu`` elsewhere (the embedded runtime on a machine without a GPU)."""
    return "cuda" if is_gpu_instance(instance_type) else "cpu"


def _tags(run_id: str, stage: str) -> list[dict[str, str]]:
    return [
        {"Key": "splatflow:run-id", "Value": run_id[:256]},
        {"Key": "splatflow:stage", "Value": stage},
    ]


def _cluster(resources: StageResources, kms_key_id: str | None) -> dict[str, Any]:
    cluster: dict[str, Any] = {
        "InstanceCount": resources.instance_count,
        "InstanceType": resources.instance_type,
        "VolumeSizeInGB": resources.volume_size_gb,
    }
    if kms_key_id:
        cluster["VolumeKmsKeyId"] = kms_key_id
    return cluster


def _processing_request(
    settings: PipelineSettings,
    *,
    name: str,
    run_id: str,
    stage: str,
    repository: str,
    resources: StageResources,
    input_uri: str,
    input_folder: str,
    output_uri: str,
    arguments: list[str],
) -> dict[str, Any]:
    app: dict[str, Any] = {"ImageUri": settings.image_uri(repository), "ContainerArguments": arguments}
    output_config: dict[str, Any] = {
        "Outputs": [
            {
                "OutputName": stage,
                "S3Output": {
                    "S3Uri": output_uri,
                    "LocalPath": str(CONTAINER.processing_output),
                    "S3UploadMode": "EndOfJob",
                },
            }
        ]
    }
    if settings.kms_key_id:
        output_config["KmsKeyId"] = settings.kms_key_id
    return {
        "ProcessingJobName": name,
        "RoleArn": settings.role_arn,
        "AppSpecification": app,
        "ProcessingResources": {"ClusterConfig": _cluster(resources, settings.kms_key_id)},
        "StoppingCondition": {"MaxRuntimeInSeconds": resources.max_runtime_seconds},
        "ProcessingInputs": [
            {
                "InputName": "input",
                "S3Input": {
                    "S3Uri": input_uri,
                    "LocalPath": str(CONTAINER.processing_input / input_folder),
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                    "S3DataDistributionType": "FullyReplicated",
                },
            }
        ],
        "ProcessingOutputConfig": output_config,
        "NetworkConfig": {"EnableNetworkIsolation": settings.network_isolation},
        "Tags": _tags(run_id, stage),
    }


def build_sfm_request(
    settings: PipelineSettings, sfm: SfmSettings, *, run_id: str, zip_uri: str, output_uri: str
) -> dict[str, Any]:
    """SfM as a Processing job: the submission's ZIP in, the COLMAP model and images out."""
    return _processing_request(
        settings,
        name=job_name(run_id, "sfm"),
        run_id=run_id,
        stage="sfm",
        repository=SFM_REPOSITORY,
        resources=settings.sfm,
        input_uri=zip_uri,
        input_folder="photos",
        output_uri=output_uri,
        arguments=to_container_arguments(sfm),
    )


def build_compress_request(
    settings: PipelineSettings, compress: CompressSettings, *, run_id: str, model_uri: str, output_uri: str
) -> dict[str, Any]:
    """Compression as a Processing job: the training job's model folder (or a user's ``model.tar.gz``
    or ``.ply``) in, ``scene.sog`` out."""
    return _processing_request(
        settings,
        name=job_name(run_id, "compress"),
        run_id=run_id,
        stage="compress",
        repository=COMPRESS_REPOSITORY,
        resources=settings.compress,
        input_uri=model_uri,
        input_folder="model",
        output_uri=output_uri,
        arguments=to_container_arguments(compress),
    )


def build_training_request(
    settings: PipelineSettings,
    train: TrainSettings,
    *,
    run_id: str,
    sfm_uri: str,
    output_uri: str,
    checkpoint_uri: str,
) -> dict[str, Any]:
    """3DGS training as a Training job, with checkpoints so a retry or a spot reclaim resumes.

    The model is uploaded uncompressed (``CompressionType: NONE``, AWS "Uncompressed model output",
    https://docs.aws.amazon.com/sagemaker/latest/dg/model-train-storage-uncompressed.html): its
    files lie under ``<output_uri><job>/output/model/``, where the compression job reads them as
    its input channel and the email links the ``.ply``, so no stage unpacks or copies the model.
    """
    resources = settings.train
    stopping: dict[str, Any] = {"MaxRuntimeInSeconds": resources.max_runtime_seconds}
    if settings.spot_training:
        stopping["MaxWaitTimeInSeconds"] = max(settings.spot_max_wait_seconds, resources.max_runtime_seconds)
    output_config: dict[str, Any] = {"S3OutputPath": output_uri, "CompressionType": "NONE"}
    if settings.kms_key_id:
        output_config["KmsKeyId"] = settings.kms_key_id
    # The instance decides the device; extra hyperparameters cannot move a GPU job to the CPU.
    train = replace(train, device=training_device(resources.instance_type))
    return {
        "TrainingJobName": job_name(run_id, "train"),
        "RoleArn": settings.role_arn,
        "AlgorithmSpecification": {
            "TrainingImage": settings.image_uri(TRAIN_REPOSITORY),
            "TrainingInputMode": "File",
        },
        "HyperParameters": to_hyperparameters(train),
        "InputDataConfig": [
            {
                "ChannelName": SFM_CHANNEL,
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": sfm_uri,
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
                "InputMode": "File",
            }
        ],
        "OutputDataConfig": output_config,
        "ResourceConfig": _cluster(resources, settings.kms_key_id),
        "StoppingCondition": stopping,
        "CheckpointConfig": {"S3Uri": checkpoint_uri, "LocalPath": str(CONTAINER.checkpoints)},
        "EnableManagedSpotTraining": settings.spot_training,
        "EnableNetworkIsolation": settings.network_isolation,
        "Tags": _tags(run_id, "train"),
    }
