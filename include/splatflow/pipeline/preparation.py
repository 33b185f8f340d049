"""Turn a trigger's params into a checked run plan, and each stage's job request from that plan.

Everything a run could be refused for is checked here, by ``validate``, before any job starts:
the submission (allow-list, URL forms, email, steps), that its bucket is readable, and the
operator's settings of every stage the run will start (a typo in
``SPLATFLOW_TRAIN_HYPERPARAMETERS`` fails the run now, not when the GPU job starts after SfM).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from botocore.exceptions import ClientError

from splatflow.contract.failures import FailureCode
from splatflow.pipeline.layout import RunLayout
from splatflow.pipeline.records import result_delivered
from splatflow.pipeline.refusal import SubmissionError
from splatflow.pipeline.requests import build_compress_request, build_sfm_request, build_training_request
from splatflow.pipeline.run_plan import PreparedRun
from splatflow.pipeline.settings import PipelineSettings
from splatflow.pipeline.submission import parse_submission, run_prefix

log = logging.getLogger(__name__)


def prepare_run(params: Mapping[str, Any], run_id: str, settings: PipelineSettings, s3: Any) -> PreparedRun:
    """The run's plan, once its submission, its bucket and its stages' settings are checked.

    A refused submission is a ``SubmissionError``; settings the stages cannot use are a
    ``settings.SettingsError`` naming the variable.
    """
    submission = parse_submission(params, settings.allowed_buckets)
    prefix = run_prefix(settings.work_bucket, run_id)
    layout = RunLayout(prefix.bucket, prefix.key.rstrip("/"))
    prepared = PreparedRun(run_id, submission, layout, delivered=result_delivered(s3, layout))
    if prepared.delivered:
        log.info("run %s already delivered its result; nothing is redone, its outputs stay as sent", run_id)
    check_stage_settings(prepared, settings)
    check_bucket_readable(s3, prepared.wait_for_uri.split("/")[2])
    return prepared


BUCKET_REFUSALS = frozenset({"400", "403", "404", "NoSuchBucket", "NotFound", "AccessDenied", "Forbidden"})
"""What ``HeadBucket`` answers for a bucket that is not there or not readable: S3 "returns a generic
400 Bad Request, 403 Forbidden or 404 Not Found code" with no body (Amazon S3 API Reference,
HeadBucket), which botocore reports as the status code."""


def check_bucket_readable(s3: Any, bucket: str) -> None:
    """Refuse the submission when S3 says its bucket is missing or unreadable.

    Anything else (throttling, a 5xx, a dropped connection) is no answer about the bucket: it is
    raised as it is, so ``validate`` fails that try and Airflow tries again, instead of telling the
    user their bucket does not exist.
    """
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code not in BUCKET_REFUSALS:
            raise
        what = "does not exist" if code in {"404", "NoSuchBucket", "NotFound"} else "cannot be read by the pipeline"
        raise SubmissionError(
            f"The bucket '{bucket}' {what} (S3 answered {code}); check the bucket's name in the link, "
            "or ask the operator to let the pipeline read it.",
            FailureCode.INPUT_MISSING,
        ) from None


def check_stage_settings(prepared: PreparedRun, settings: PipelineSettings) -> None:
    """Parse the settings of every stage this run starts, as its job request will."""
    if prepared.runs_sfm:
        settings.sfm_settings()
    if prepared.runs_training:
        settings.train_settings(prepared.submission.preset)
    if prepared.runs_compression:
        settings.compress_settings()


def sfm_request(prepared: PreparedRun, settings: PipelineSettings) -> dict[str, Any]:
    assert prepared.submission.input is not None
    return build_sfm_request(
        settings,
        settings.sfm_settings(),
        run_id=prepared.run_id,
        zip_uri=prepared.submission.input.uri,
        output_uri=prepared.layout.sfm_output,
    )


def training_request(
    prepared: PreparedRun, settings: PipelineSettings, sfm_result: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The SfM output is read where this run's SfM job wrote it (the generation it ran in, which a
    clear of the later steps only leaves behind), else the submission's."""
    if prepared.runs_sfm and sfm_result:
        sfm_uri = sfm_result["Processing"]["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    elif prepared.runs_sfm:
        sfm_uri = prepared.layout.sfm_output
    else:
        assert prepared.submission.sfm_output is not None
        sfm_uri = prepared.submission.sfm_output.uri
    return build_training_request(
        settings,
        settings.train_settings(prepared.submission.preset),
        run_id=prepared.run_id,
        sfm_uri=sfm_uri,
        output_uri=prepared.layout.training_output,
        checkpoint_uri=prepared.layout.checkpoints,
    )


def compress_request(
    prepared: PreparedRun, settings: PipelineSettings, training_result: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The model comes from this run's training job (its actual, possibly renamed, job) or the user.

    The training job's uncompressed model folder is the compression job's input channel and its
    ``.ply`` is linked where it lies. Any other model (a user's, or a ``model.tar.gz`` a training job
    wrote before its output was uncompressed) has no ``.ply`` of its own in the run's folder, so the
    compression job copies it there.
    """
    if prepared.runs_training:
        if not training_result:
            raise RuntimeError("the training task returned no job description")
        model_uri = training_result["Training"]["ModelArtifacts"]["S3ModelArtifacts"]
    else:
        assert prepared.submission.model is not None
        model_uri = prepared.submission.model.uri
    return build_compress_request(
        settings,
        replace(settings.compress_settings(), copy_ply=not (prepared.runs_training and model_uri.endswith("/"))),
        run_id=prepared.run_id,
        model_uri=model_uri,
        output_uri=prepared.layout.compress_output,
    )
