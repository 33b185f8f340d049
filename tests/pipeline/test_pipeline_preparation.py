"""The input check: a run's plan, made only when the submission, its bucket and the settings of every
stage the run starts are usable, so nothing is refused after a job has started."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from splatflow.contract.compress_settings import Settings as CompressSettings
from splatflow.contract.failures import FailureCode
from splatflow.contract.hyperparameters import from_container_arguments
from splatflow.pipeline.preparation import check_bucket_readable, compress_request, prepare_run, training_request
from splatflow.pipeline.records import RESULT_ENTRY, mark_email_sent
from splatflow.pipeline.refusal import SubmissionError
from splatflow.pipeline.run_plan import PreparedRun
from splatflow.pipeline.settings import PipelineSettings, SettingsError

UPLOADS = "uploads"
WORK = "work"
SETTINGS = PipelineSettings(work_bucket=WORK, allowed_buckets=frozenset({UPLOADS}))
FULL = {"s3_url": f"s3://{UPLOADS}/site/photos.zip", "email": "pilot@example.com"}
COMPRESS_ONLY = {"steps": "compress_only", "model_url": f"s3://{UPLOADS}/m/splat.ply", "email": "pilot@example.com"}


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        for bucket in (UPLOADS, WORK):
            client.create_bucket(Bucket=bucket)
        yield client


def test_a_good_submission_gets_a_plan_that_waits_for_its_zip(s3: Any) -> None:
    plan = prepare_run(FULL, "run-1", SETTINGS, s3)
    assert plan.wait_for_uri == FULL["s3_url"]
    assert [plan.starts(stage) for stage in ("sfm", "train", "compress")] == [True, True, True]
    assert PreparedRun.from_dict(json.loads(json.dumps(plan.to_dict()))) == plan


def test_a_typo_in_the_training_settings_fails_the_input_check_before_any_job(s3: Any) -> None:
    settings = replace(SETTINGS, train_hyperparameters={"max_step": "7000"})
    with pytest.raises(SettingsError, match=r"SPLATFLOW_TRAIN_HYPERPARAMETERS: unknown hyperparameter.*max_step"):
        prepare_run(FULL, "run-1", settings, s3)


def test_only_the_stages_a_run_starts_have_their_settings_checked(s3: Any) -> None:
    settings = replace(SETTINGS, sfm_arguments={"mapper": "hierarchical"}, train_hyperparameters={"max_step": "1"})
    plan = prepare_run(COMPRESS_ONLY, "run-1", settings, s3)
    assert [plan.starts(stage) for stage in ("sfm", "train", "compress")] == [False, False, True]
    with pytest.raises(SettingsError, match="SPLATFLOW_COMPRESS_ARGUMENTS"):
        prepare_run(COMPRESS_ONLY, "run-1", replace(settings, compress_arguments={"seed": "x"}), s3)


def test_the_training_request_carries_the_checked_settings(s3: Any) -> None:
    settings = replace(SETTINGS, train_hyperparameters={"max_steps": "7000"})
    plan = prepare_run({**FULL, "preset": "high"}, "run-1", settings, s3)
    hyperparameters = training_request(plan, settings)["HyperParameters"]
    assert (hyperparameters["preset"], hyperparameters["max_steps"]) == ("high", "7000")


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({**FULL, "s3_url": "s3://elsewhere/photos.zip"}, FailureCode.BUCKET_NOT_ALLOWED),
        ({**FULL, "preset": "ultra"}, FailureCode.INVALID_SUBMISSION),
    ],
)
def test_a_refused_submission_carries_its_code(s3: Any, params: dict[str, str], code: FailureCode) -> None:
    with pytest.raises(SubmissionError) as refused:
        prepare_run(params, "run-1", SETTINGS, s3)
    assert refused.value.code is code


def test_an_unreadable_bucket_is_missing_input(s3: Any) -> None:
    settings = replace(SETTINGS, allowed_buckets=frozenset({UPLOADS, "gone"}))
    with pytest.raises(SubmissionError, match="does not exist") as refused:
        prepare_run({**FULL, "s3_url": "s3://gone/photos.zip"}, "run-1", settings, s3)
    assert refused.value.code is FailureCode.INPUT_MISSING


def test_a_delivered_run_starts_nothing_and_waits_for_its_own_record(s3: Any) -> None:
    first = prepare_run(FULL, "run-1", SETTINGS, s3)
    mark_email_sent(s3, first.layout, RESULT_ENTRY, "pilot@example.com", None)
    again = prepare_run(FULL, "run-1", SETTINGS, s3)
    assert again.delivered and not any(again.starts(stage) for stage in ("sfm", "train", "compress"))
    assert again.wait_for_uri == f"s3://{WORK}/{first.layout.delivery_key}"


class _AnsweringS3:
    """An S3 client whose HeadBucket answers with one error, as botocore raises it."""

    def __init__(self, code: str, status: int) -> None:
        self.error = ClientError(
            {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "HeadBucket"
        )

    def head_bucket(self, Bucket: str) -> None:  # noqa: N803 - boto3's parameter name
        raise self.error


@pytest.mark.parametrize(("code", "status", "words"), [("404", 404, "does not exist"), ("403", 403, "cannot be read")])
def test_a_missing_or_unreadable_bucket_refuses_the_submission(code: str, status: int, words: str) -> None:
    with pytest.raises(SubmissionError, match=words) as refused:
        check_bucket_readable(_AnsweringS3(code, status), UPLOADS)
    assert refused.value.code is FailureCode.INPUT_MISSING


@pytest.mark.parametrize(
    ("code", "status"), [("SlowDown", 503), ("ThrottlingException", 400), ("InternalError", 500), ("503", 503)]
)
def test_a_throttle_or_a_server_error_is_no_answer_about_the_bucket_and_is_raised_for_a_retry(
    code: str, status: int
) -> None:
    with pytest.raises(ClientError) as raised:
        check_bucket_readable(_AnsweringS3(code, status), UPLOADS)
    assert not isinstance(raised.value, SubmissionError)


def test_a_cleared_runs_training_keeps_its_checkpoints_apart_and_reads_the_sfm_job_s_output(s3: Any) -> None:
    """Generation 1 of a run (cleared once) gets its own checkpoint folder, so it cannot resume the
    first generation's model; the SfM output is read where the SfM job wrote it, even when that
    job is an earlier generation's (only the training and later steps were cleared)."""
    plan = prepare_run(FULL, "run-1", SETTINGS, s3)
    first = training_request(plan, SETTINGS)
    sfm_job = {"Processing": {"ProcessingOutputConfig": {"Outputs": [{"S3Output": {"S3Uri": plan.layout.sfm_output}}]}}}

    cleared = training_request(replace(plan, layout=plan.layout.in_generation(1)), SETTINGS, sfm_job)

    assert first["CheckpointConfig"]["S3Uri"] == plan.layout.checkpoints
    assert cleared["CheckpointConfig"]["S3Uri"] == f"s3://{WORK}/{plan.layout.prefix}/c1/checkpoints/"
    assert cleared["OutputDataConfig"]["S3OutputPath"] == f"s3://{WORK}/{plan.layout.prefix}/c1/train/"
    (channel,) = cleared["InputDataConfig"]
    assert channel["DataSource"]["S3DataSource"]["S3Uri"] == plan.layout.sfm_output


def _trained(model_uri: str) -> dict[str, Any]:
    return {"Training": {"ModelArtifacts": {"S3ModelArtifacts": model_uri}}}


def test_the_compression_job_reads_the_training_jobs_model_folder_and_copies_no_ply(s3: Any) -> None:
    plan = prepare_run(FULL, "run-1", SETTINGS, s3)
    folder = f"{plan.layout.training_output}splat-run-1-train/output/model/"

    request = compress_request(plan, SETTINGS, _trained(folder))

    channel = request["ProcessingInputs"][0]["S3Input"]
    assert (channel["S3Uri"], channel["S3DataType"]) == (folder, "S3Prefix")
    arguments = request["AppSpecification"]["ContainerArguments"]
    assert from_container_arguments(CompressSettings, arguments).copy_ply is False


@pytest.mark.parametrize(
    ("params", "training"),
    [
        (COMPRESS_ONLY, None),
        (FULL, _trained(f"s3://{WORK}/runs/old/train/job/output/model.tar.gz")),
    ],
    ids=["a user's .ply", "a training job's model.tar.gz"],
)
def test_a_model_without_a_ply_of_its_own_in_the_run_has_it_copied_beside_the_sog(
    s3: Any, params: dict[str, str], training: dict[str, Any] | None
) -> None:
    plan = prepare_run(params, "run-1", SETTINGS, s3)
    arguments = compress_request(plan, SETTINGS, training)["AppSpecification"]["ContainerArguments"]
    assert from_container_arguments(CompressSettings, arguments).copy_ply is True


def test_a_run_reusing_a_model_folder_waits_for_its_ply(s3: Any) -> None:
    folder = f"s3://{UPLOADS}/runs/old/train/job/output/model/"
    plan = prepare_run({**COMPRESS_ONLY, "model_url": folder}, "run-1", SETTINGS, s3)
    assert plan.wait_for_uri == f"{folder}splat.ply"
    assert compress_request(plan, SETTINGS, None)["ProcessingInputs"][0]["S3Input"]["S3Uri"] == folder
