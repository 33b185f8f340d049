"""Processing and Training jobs through boto3 against the embedded job runner."""

from __future__ import annotations

import io
import tarfile
from typing import Any

import pytest
from botocore.exceptions import ClientError
from runner_support import BUCKET, processing_request, training_request, unique, wait_for


def _put(s3: Any, key: str, body: bytes) -> str:
    s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    return f"s3://{BUCKET}/{key}"


def _keys(s3: Any, prefix: str) -> list[str]:
    response = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return sorted(item["Key"] for item in response.get("Contents", []))


def test_processing_job_completes_and_uploads_outputs(sagemaker: Any, s3: Any) -> None:
    name = unique("copy")
    _put(s3, f"{name}/in/photos.zip", b"zip-bytes")
    _put(s3, f"{name}/in/extra/notes.txt", b"notes")
    request = processing_request(name, ["--mode", "copy"], f"s3://{BUCKET}/{name}/in/", f"s3://{BUCKET}/{name}/out")
    arn = sagemaker.create_processing_job(**request)["ProcessingJobArn"]
    assert arn.endswith(f"processing-job/{name}")

    job = wait_for(lambda: sagemaker.describe_processing_job(ProcessingJobName=name))

    assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")
    assert job["ProcessingEndTime"] >= job["ProcessingStartTime"] >= job["CreationTime"]
    assert job["AppSpecification"]["ContainerArguments"] == ["--mode", "copy"]
    assert _keys(s3, f"{name}/out/") == [f"{name}/out/extra/notes.txt", f"{name}/out/photos.zip"]
    copied = s3.get_object(Bucket=BUCKET, Key=f"{name}/out/photos.zip")
    assert copied["Body"].read() == b"zip-bytes"
    assert copied["ServerSideEncryption"] == "AES256"


def test_single_object_input_lands_under_its_own_name(sagemaker: Any, s3: Any) -> None:
    name = unique("single")
    uri = _put(s3, f"{name}/upload/photos.zip", b"zip")
    sagemaker.create_processing_job(**processing_request(name, ["--mode", "copy"], uri, f"s3://{BUCKET}/{name}/out"))
    job = wait_for(lambda: sagemaker.describe_processing_job(ProcessingJobName=name))
    assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")
    assert _keys(s3, f"{name}/out/") == [f"{name}/out/photos.zip"]


def test_failing_stage_reports_its_reason_and_publishes_nothing(sagemaker: Any, s3: Any) -> None:
    name = unique("fail")
    uri = _put(s3, f"{name}/in/a.txt", b"a")
    arguments = [
        "--mode",
        "fail",
        "--code",
        "NO_OVERLAP",
        "--reason",
        "3 of 40 photos could be matched; the photos may not overlap",
    ]
    sagemaker.create_processing_job(**processing_request(name, arguments, uri, f"s3://{BUCKET}/{name}/out"))

    job = wait_for(lambda: sagemaker.describe_processing_job(ProcessingJobName=name))

    # As SageMaker reports a Processing job: a fixed FailureReason, the container's words as ExitMessage.
    assert job["ProcessingJobStatus"] == "Failed"
    assert job["FailureReason"] == "AlgorithmError: See job logs for more information"
    assert job["ExitMessage"] == "scripted: NO_OVERLAP: 3 of 40 photos could be matched; the photos may not overlap\n"
    assert _keys(s3, f"{name}/out/") == []


def test_a_failing_training_job_reports_its_containers_failure_file(sagemaker: Any, s3: Any) -> None:
    name = unique("trainfail")
    channel = _put(s3, f"{name}/sfm/a.txt", b"a")
    hyperparameters = {"mode": "fail", "code": "DIVERGED", "reason": "the loss became NaN at step 40"}
    sagemaker.create_training_job(**training_request(name, hyperparameters, channel, f"s3://{BUCKET}/{name}/out"))

    job = wait_for(lambda: sagemaker.describe_training_job(TrainingJobName=name))

    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"] == "scripted: DIVERGED: the loss became NaN at step 40"
    assert "ExitMessage" not in job


def test_crash_without_a_reason_leaves_no_exit_message(sagemaker: Any, s3: Any) -> None:
    name = unique("crash")
    uri = _put(s3, f"{name}/in/a.txt", b"a")
    sagemaker.create_processing_job(**processing_request(name, ["--mode", "crash"], uri, f"s3://{BUCKET}/{name}/o"))
    job = wait_for(lambda: sagemaker.describe_processing_job(ProcessingJobName=name))
    assert job["ProcessingJobStatus"] == "Failed"
    assert job["FailureReason"] == "AlgorithmError: See job logs for more information"
    assert "ExitMessage" not in job


def test_a_training_crash_without_a_reason_names_the_exit_code(sagemaker: Any, s3: Any) -> None:
    name = unique("traincrash")
    channel = _put(s3, f"{name}/sfm/a.txt", b"a")
    sagemaker.create_training_job(**training_request(name, {"mode": "crash"}, channel, f"s3://{BUCKET}/{name}/out"))
    job = wait_for(lambda: sagemaker.describe_training_job(TrainingJobName=name))
    assert job["TrainingJobStatus"] == "Failed"
    assert "exited with code 3" in job["FailureReason"]


def test_invalid_stage_settings_fail_with_the_contracts_reason(sagemaker: Any, s3: Any) -> None:
    name = unique("badarg")
    uri = _put(s3, f"{name}/in/a.txt", b"a")
    sagemaker.create_processing_job(**processing_request(name, ["--mode", "dance"], uri, f"s3://{BUCKET}/{name}/o"))
    job = wait_for(lambda: sagemaker.describe_processing_job(ProcessingJobName=name))
    assert job["ProcessingJobStatus"] == "Failed"
    assert "invalid arguments: mode='dance' is not one of" in job["ExitMessage"]


def test_missing_input_fails_the_job_with_a_client_error(sagemaker: Any) -> None:
    name = unique("noinput")
    request = processing_request(name, [], f"s3://{BUCKET}/{name}/nothing-here/", f"s3://{BUCKET}/{name}/o")
    sagemaker.create_processing_job(**request)
    job = wait_for(lambda: sagemaker.describe_processing_job(ProcessingJobName=name))
    assert job["ProcessingJobStatus"] == "Failed"
    assert job["FailureReason"].startswith("ClientError: no S3 objects found")


def test_unknown_image_fails_the_job_naming_the_image(sagemaker: Any, s3: Any) -> None:
    name = unique("noimage")
    request = processing_request(name, [], None, f"s3://{BUCKET}/{name}/o")
    request["AppSpecification"]["ImageUri"] = "000000000000.dkr.ecr.us-east-1.amazonaws.com/other/thing:1"
    sagemaker.create_processing_job(**request)
    job = wait_for(lambda: sagemaker.describe_processing_job(ProcessingJobName=name))
    assert job["ProcessingJobStatus"] == "Failed"
    assert "no local stage for image" in job["FailureReason"] and "'thing'" in job["FailureReason"]


def test_stop_ends_a_running_job_as_stopped(sagemaker: Any) -> None:
    name = unique("stop")
    request = processing_request(name, ["--mode", "sleep", "--seconds", "60"], None, f"s3://{BUCKET}/{name}/o")
    sagemaker.create_processing_job(**request)
    sagemaker.stop_processing_job(ProcessingJobName=name)
    job = wait_for(lambda: sagemaker.describe_processing_job(ProcessingJobName=name), timeout=20)
    assert job["ProcessingJobStatus"] == "Stopped"

    with pytest.raises(ClientError) as stopped_again:
        sagemaker.stop_processing_job(ProcessingJobName=name)
    assert stopped_again.value.response["Error"]["Code"] == "ValidationException"


def test_max_runtime_stops_a_processing_job_with_a_reason(sagemaker: Any) -> None:
    name = unique("slow")
    request = processing_request(name, ["--mode", "sleep", "--seconds", "60"], None, f"s3://{BUCKET}/{name}/o")
    request["StoppingCondition"] = {"MaxRuntimeInSeconds": 1}
    sagemaker.create_processing_job(**request)
    job = wait_for(lambda: sagemaker.describe_processing_job(ProcessingJobName=name), timeout=20)
    assert job["ProcessingJobStatus"] == "Failed"
    assert "MaxRuntimeInSeconds (1 s)" in job["FailureReason"]


def test_duplicate_name_is_resource_in_use_and_unknown_name_is_validation(sagemaker: Any) -> None:
    name = unique("dup")
    request = processing_request(name, ["--mode", "copy"], None, f"s3://{BUCKET}/{name}/o")
    sagemaker.create_processing_job(**request)
    with pytest.raises(ClientError) as duplicate:
        sagemaker.create_processing_job(**request)
    assert duplicate.value.response["Error"]["Code"] == "ResourceInUse"
    with pytest.raises(ClientError) as unknown:
        sagemaker.describe_processing_job(ProcessingJobName=unique("never"))
    assert unknown.value.response["Error"]["Code"] == "ValidationException"


def test_list_filters_by_name_and_status_and_pages(sagemaker: Any) -> None:
    stem = unique("listing")
    for index in range(3):
        sagemaker.create_processing_job(
            **processing_request(f"{stem}-{index}", ["--mode", "copy"], None, f"s3://{BUCKET}/{stem}/{index}")
        )
    for index in range(3):
        wait_for(lambda i=index: sagemaker.describe_processing_job(ProcessingJobName=f"{stem}-{i}"))

    first = sagemaker.list_processing_jobs(NameContains=stem, MaxResults=2, SortBy="Name", SortOrder="Ascending")
    rest = sagemaker.list_processing_jobs(
        NameContains=stem, MaxResults=2, SortBy="Name", SortOrder="Ascending", NextToken=first["NextToken"]
    )
    names = [s["ProcessingJobName"] for s in first["ProcessingJobSummaries"] + rest["ProcessingJobSummaries"]]
    assert names == [f"{stem}-0", f"{stem}-1", f"{stem}-2"]
    assert "NextToken" not in rest
    failed = sagemaker.list_processing_jobs(NameContains=stem, StatusEquals="Failed")
    assert failed["ProcessingJobSummaries"] == []


def test_training_job_gets_channels_and_hyperparameters_and_uploads_model_tarball(sagemaker: Any, s3: Any) -> None:
    name = unique("train")
    _put(s3, f"{name}/sfm/sparse/cameras.bin", b"cams")
    request = training_request(name, {"mode": "copy"}, f"s3://{BUCKET}/{name}/sfm", f"s3://{BUCKET}/{name}/models")
    sagemaker.create_training_job(**request)

    job = wait_for(lambda: sagemaker.describe_training_job(TrainingJobName=name))

    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    artifact = f"s3://{BUCKET}/{name}/models/{name}/output/model.tar.gz"
    assert job["ModelArtifacts"]["S3ModelArtifacts"] == artifact
    assert job["BillableTimeInSeconds"] >= 1
    phases = [t["Status"] for t in job["SecondaryStatusTransitions"]]
    assert phases == ["Starting", "Downloading", "Training", "Uploading", "Completed"]
    body = s3.get_object(Bucket=BUCKET, Key=f"{name}/models/{name}/output/model.tar.gz")["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        assert tar.extractfile("sfm/sparse/cameras.bin").read() == b"cams"  # type: ignore[union-attr]


def test_an_uncompressed_training_job_uploads_the_model_folders_files_under_output_model(
    sagemaker: Any, s3: Any
) -> None:
    name = unique("trainraw")
    _put(s3, f"{name}/sfm/sparse/cameras.bin", b"cams")
    request = training_request(name, {"mode": "copy"}, f"s3://{BUCKET}/{name}/sfm", f"s3://{BUCKET}/{name}/models")
    request["OutputDataConfig"]["CompressionType"] = "NONE"
    sagemaker.create_training_job(**request)

    job = wait_for(lambda: sagemaker.describe_training_job(TrainingJobName=name))

    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    model = f"{name}/models/{name}/output/model/"
    assert job["ModelArtifacts"]["S3ModelArtifacts"] == f"s3://{BUCKET}/{model}"
    assert _keys(s3, f"{name}/models/") == [f"{model}sfm/sparse/cameras.bin"]
    assert s3.get_object(Bucket=BUCKET, Key=f"{model}sfm/sparse/cameras.bin")["Body"].read() == b"cams"


def test_training_max_runtime_is_stopped_max_runtime_exceeded(sagemaker: Any, s3: Any) -> None:
    name = unique("trainslow")
    _put(s3, f"{name}/sfm/x", b"x")
    request = training_request(
        name, {"mode": "sleep", "seconds": "60"}, f"s3://{BUCKET}/{name}/sfm", f"s3://{BUCKET}/{name}/m"
    )
    request["StoppingCondition"] = {"MaxRuntimeInSeconds": 1}
    sagemaker.create_training_job(**request)
    job = wait_for(lambda: sagemaker.describe_training_job(TrainingJobName=name), timeout=20)
    assert job["TrainingJobStatus"] == "Stopped"
    assert "MaxRuntimeExceeded" in [t["Status"] for t in job["SecondaryStatusTransitions"]]
    assert _keys(s3, f"{name}/m/") == []


def test_a_retried_training_job_resumes_from_synced_checkpoints(sagemaker: Any, s3: Any) -> None:
    stem = unique("ckpt")
    _put(s3, f"{stem}/sfm/x", b"x")
    checkpoints = f"s3://{BUCKET}/{stem}/checkpoints"
    hyperparameters = {"mode": "checkpoint", "steps": "40", "seconds": "0.1"}
    first = training_request(
        f"{stem}-a", hyperparameters, f"s3://{BUCKET}/{stem}/sfm", f"s3://{BUCKET}/{stem}/m", checkpoints
    )
    first["StoppingCondition"] = {"MaxRuntimeInSeconds": 2}
    sagemaker.create_training_job(**first)
    killed = wait_for(lambda: sagemaker.describe_training_job(TrainingJobName=f"{stem}-a"), timeout=30)
    assert killed["TrainingJobStatus"] == "Stopped"
    synced_step = int(s3.get_object(Bucket=BUCKET, Key=f"{stem}/checkpoints/step.txt")["Body"].read())
    assert 0 < synced_step < 40

    retry = {**first, "TrainingJobName": f"{stem}-b", "StoppingCondition": {"MaxRuntimeInSeconds": 60}}
    sagemaker.create_training_job(**retry)
    done = wait_for(lambda: sagemaker.describe_training_job(TrainingJobName=f"{stem}-b"), timeout=60)
    assert done["TrainingJobStatus"] == "Completed", done.get("FailureReason")
    body = s3.get_object(Bucket=BUCKET, Key=f"{stem}/m/{stem}-b/output/model.tar.gz")["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        resumed_from, total = tar.extractfile("steps.txt").read().split()  # type: ignore[union-attr]
    assert int(resumed_from) >= synced_step and int(total) == 40


def test_checkpoints_pruned_in_the_container_are_deleted_from_s3_too(sagemaker: Any, s3: Any) -> None:
    """SageMaker: "If a checkpoint is deleted in the SageMaker container, it will also be deleted in
    the S3 folder"; a stage that keeps two checkpoints keeps S3 at two, across a retry's restore."""
    stem = unique("prune")
    _put(s3, f"{stem}/sfm/x", b"x")
    checkpoints = f"s3://{BUCKET}/{stem}/checkpoints"
    hyperparameters = {"mode": "checkpoint", "steps": "10", "seconds": "0.05", "keep_last": "2"}
    first = training_request(
        f"{stem}-a", hyperparameters, f"s3://{BUCKET}/{stem}/sfm", f"s3://{BUCKET}/{stem}/m", checkpoints
    )
    sagemaker.create_training_job(**first)
    done = wait_for(lambda: sagemaker.describe_training_job(TrainingJobName=f"{stem}-a"), timeout=60)
    assert done["TrainingJobStatus"] == "Completed", done.get("FailureReason")
    assert _keys(s3, f"{stem}/checkpoints/") == [
        f"{stem}/checkpoints/step-0009.ckpt",
        f"{stem}/checkpoints/step-0010.ckpt",
        f"{stem}/checkpoints/step.txt",
    ]

    more = {**first, "TrainingJobName": f"{stem}-b", "HyperParameters": {**hyperparameters, "steps": "14"}}
    sagemaker.create_training_job(**more)
    done = wait_for(lambda: sagemaker.describe_training_job(TrainingJobName=f"{stem}-b"), timeout=60)
    assert done["TrainingJobStatus"] == "Completed", done.get("FailureReason")
    assert _keys(s3, f"{stem}/checkpoints/") == [
        f"{stem}/checkpoints/step-0013.ckpt",
        f"{stem}/checkpoints/step-0014.ckpt",
        f"{stem}/checkpoints/step.txt",
    ]
