"""Every request the pipeline builds is valid for SageMaker and readable by its stage."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import botocore.session
import pytest

from splatflow.contract.compress_settings import Settings as CompressSettings
from splatflow.contract.hyperparameters import from_container_arguments, from_hyperparameters
from splatflow.contract.sfm_settings import Settings as SfmSettings
from splatflow.contract.train_settings import Settings as TrainSettings
from splatflow.local.sagemaker.validation import validation_problems
from splatflow.pipeline.requests import (
    JOB_NAME_BASE_MAX,
    build_compress_request,
    build_sfm_request,
    build_training_request,
    job_name,
)
from splatflow.pipeline.settings import PipelineSettings, SettingsError

MODEL = botocore.session.get_session().get_service_model("sagemaker")
RUN_ID = "manual__2026-11-22T10:49:22.123456+00:00"

PLAIN = PipelineSettings()
HARDENED = replace(
    PipelineSettings(),
    kms_key_id="arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    sfm_arguments={"image_max_size": "1200", "mapper": "incremental"},
    train_hyperparameters={"max_steps": "7000", "max_minutes": "20"},
    compress_arguments={"max_psnr_loss_db": "0.5"},
)


def _sfm(settings: PipelineSettings) -> dict[str, Any]:
    return build_sfm_request(
        settings,
        settings.sfm_settings(),
        run_id=RUN_ID,
        zip_uri="s3://uploads/site 1/photos.zip",
        output_uri="s3://work/runs/r/sfm/",
    )


def _train(settings: PipelineSettings) -> dict[str, Any]:
    return build_training_request(
        settings,
        settings.train_settings("high"),
        run_id=RUN_ID,
        sfm_uri="s3://work/runs/r/sfm/",
        output_uri="s3://work/runs/r/train/",
        checkpoint_uri="s3://work/runs/r/checkpoints/",
    )


def _compress(settings: PipelineSettings) -> dict[str, Any]:
    return build_compress_request(
        settings,
        settings.compress_settings(),
        run_id=RUN_ID,
        model_uri="s3://work/runs/r/train/job/output/model.tar.gz",
        output_uri="s3://w/c/",
    )


@pytest.mark.parametrize("settings", [PLAIN, HARDENED], ids=["defaults", "kms-and-overrides"])
@pytest.mark.parametrize(
    ("build", "operation"),
    [(_sfm, "CreateProcessingJob"), (_train, "CreateTrainingJob"), (_compress, "CreateProcessingJob")],
    ids=["sfm", "train", "compress"],
)
def test_request_satisfies_the_sagemaker_model(build: Any, operation: str, settings: PipelineSettings) -> None:
    assert validation_problems(MODEL.operation_model(operation), build(settings)) == []


def test_stage_settings_parse_what_the_requests_carry() -> None:
    sfm = from_container_arguments(SfmSettings, _sfm(HARDENED)["AppSpecification"]["ContainerArguments"])
    assert (sfm.image_max_size, sfm.mapper) == (1200, "incremental")
    train = from_hyperparameters(TrainSettings, _train(HARDENED)["HyperParameters"])
    assert (train.preset, train.max_steps, train.max_minutes) == ("high", 7000, 20.0)
    compress = from_container_arguments(CompressSettings, _compress(HARDENED)["AppSpecification"]["ContainerArguments"])
    assert compress.max_psnr_loss_db == 0.5


def test_requests_carry_every_stage_setting_so_a_jobs_record_says_what_it_ran_with() -> None:
    sfm = from_container_arguments(SfmSettings, _sfm(PLAIN)["AppSpecification"]["ContainerArguments"])
    assert sfm == SfmSettings()
    assert from_hyperparameters(TrainSettings, _train(PLAIN)["HyperParameters"]) == TrainSettings(preset="high")
    compress = from_container_arguments(CompressSettings, _compress(PLAIN)["AppSpecification"]["ContainerArguments"])
    assert compress == CompressSettings()


@pytest.mark.parametrize(
    ("variable", "settings", "build"),
    [
        ("SFM_ARGUMENTS", replace(PLAIN, sfm_arguments={"image_max_sise": "1200"}), PipelineSettings.sfm_settings),
        (
            "TRAIN_HYPERPARAMETERS",
            replace(PLAIN, train_hyperparameters={"max_step": "7000"}),
            lambda s: s.train_settings("standard"),
        ),
        (
            "TRAIN_HYPERPARAMETERS",
            replace(PLAIN, train_hyperparameters={"max_steps": "many"}),
            lambda s: s.train_settings("standard"),
        ),
        (
            "COMPRESS_ARGUMENTS",
            replace(PLAIN, compress_arguments={"texel_order": "hilbert"}),
            PipelineSettings.compress_settings,
        ),
    ],
)
def test_a_stage_setting_the_stage_cannot_read_is_refused_naming_the_variable(
    variable: str, settings: PipelineSettings, build: Any
) -> None:
    with pytest.raises(SettingsError, match=f"^SPLATFLOW_{variable}: "):
        build(settings)


def test_training_resumes_from_run_scoped_checkpoints_on_spot() -> None:
    request = _train(PLAIN)
    assert request["CheckpointConfig"] == {"S3Uri": "s3://work/runs/r/checkpoints/", "LocalPath": "/opt/ml/checkpoints"}
    assert request["EnableManagedSpotTraining"] is True
    assert request["StoppingCondition"]["MaxWaitTimeInSeconds"] >= request["StoppingCondition"]["MaxRuntimeInSeconds"]
    assert request["EnableNetworkIsolation"] is True


TRAINING_INSTANCE_TYPES = MODEL.shape_for("TrainingInstanceType").enum


@pytest.mark.parametrize(
    ("instance_type", "device"),
    [
        ("ml.g4dn.xlarge", "cuda"),  # the default: one T4
        ("ml.g5.2xlarge", "cuda"),
        ("ml.p3.2xlarge", "cuda"),
        ("ml.p4d.24xlarge", "cuda"),
        ("ml.m5.xlarge", "cpu"),
        ("ml.c6i.2xlarge", "cpu"),
        ("ml.trn1.2xlarge", "cpu"),  # Trainium has no CUDA
    ],
)
def test_training_request_states_the_device_from_the_instance_type(instance_type: str, device: str) -> None:
    assert instance_type in TRAINING_INSTANCE_TYPES
    settings = replace(HARDENED, train=replace(HARDENED.train, instance_type=instance_type))

    request = _train(settings)

    assert request["HyperParameters"]["device"] == device
    assert from_hyperparameters(TrainSettings, request["HyperParameters"]).device == device


def test_extra_hyperparameters_cannot_move_a_gpu_job_to_the_cpu() -> None:
    settings = replace(PLAIN, train_hyperparameters={"device": "cpu", "max_steps": "10"})

    assert _train(settings)["HyperParameters"]["device"] == "cuda"


def test_training_uploads_its_model_uncompressed_for_the_compression_job_to_read_in_place() -> None:
    assert _train(PLAIN)["OutputDataConfig"] == {"S3OutputPath": "s3://work/runs/r/train/", "CompressionType": "NONE"}


def test_kms_key_reaches_volumes_and_outputs() -> None:
    key = HARDENED.kms_key_id
    assert _train(HARDENED)["ResourceConfig"]["VolumeKmsKeyId"] == key
    assert _train(HARDENED)["OutputDataConfig"]["KmsKeyId"] == key
    assert _sfm(HARDENED)["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] == key
    assert _sfm(HARDENED)["ProcessingOutputConfig"]["KmsKeyId"] == key


def test_images_are_named_by_stage_repository() -> None:
    assert _sfm(PLAIN)["AppSpecification"]["ImageUri"].endswith("/splatflow/sfm:latest")
    assert _train(PLAIN)["AlgorithmSpecification"]["TrainingImage"].endswith("/splatflow/3dgs:latest")
    assert _compress(PLAIN)["AppSpecification"]["ImageUri"].endswith("/splatflow/compressor:latest")


@pytest.mark.parametrize(
    "run_id",
    [RUN_ID, "scheduled__2026-01-01T00:00:00+00:00", "x" * 250, "ünïcode run/with spaces", "--"],
)
def test_job_names_fit_the_pattern_with_room_for_a_generation_and_a_retry_suffix(run_id: str) -> None:
    name = job_name(run_id, "compress")
    assert len(name) <= JOB_NAME_BASE_MAX
    retried = f"{name}-c9999-1763800000"
    assert validation_problems(MODEL.operation_model("DescribeProcessingJob"), {"ProcessingJobName": retried}) == []


def test_job_names_differ_between_runs_and_stages() -> None:
    names = {job_name(f"manual__2026-11-22T10:49:{second:02d}+00:00", stage) for second in range(60) for stage in "ab"}
    assert len(names) == 120
