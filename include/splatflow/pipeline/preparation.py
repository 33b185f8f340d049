"""Turn a trigger's params into a checked run plan, and each stage's job request from that plan.

The plan travels between tasks through XCom as plain JSON (``PreparedRun.to_dict``), so each
task rebuilds typed objects from it rather than re-reading params that a user could change.

A run whose result was already emailed is finished: when it is cleared or re-run, the plan says
``delivered`` and every step after the input check skips, instead of starting the stage jobs
again, which would rewrite the very files the email links to.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airflow.sdk.exceptions import AirflowSkipException

from splatflow.pipeline.delivery import result_delivered
from splatflow.pipeline.layout import RunLayout
from splatflow.pipeline.requests import build_compress_request, build_sfm_request, build_training_request
from splatflow.pipeline.settings import PipelineSettings
from splatflow.pipeline.submission import Submission, SubmissionError, parse_submission, run_prefix

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreparedRun:
    run_id: str
    submission: Submission
    layout: RunLayout
    delivered: bool = False
    """The result email of this run already went out: nothing is to be redone."""

    @property
    def wait_for_uri(self) -> str:
        """The object whose arrival starts the run: the ZIP, the SfM report, or the model.

        A delivered run waits for its own delivery record, which is there: its input may be
        long gone, and a cleared run must not fail (and email the user) for want of it.
        """
        if self.delivered:
            return f"s3://{self.layout.bucket}/{self.layout.delivery_key}"
        steps = self.submission.steps
        if steps == "full":
            assert self.submission.input is not None
            return self.submission.input.uri
        if steps == "train_and_compress":
            assert self.submission.sfm_output is not None
            return self.submission.sfm_output.uri.rstrip("/") + "/report.json"
        assert self.submission.model is not None
        return self.submission.model.uri

    @property
    def runs_sfm(self) -> bool:
        """Whether this run starts an SfM job (a delivered run starts none)."""
        return self.submission.steps == "full" and not self.delivered

    @property
    def runs_training(self) -> bool:
        """Whether this run starts a training job (a delivered run starts none)."""
        return self.submission.steps in {"full", "train_and_compress"} and not self.delivered

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "submission": self.submission.to_dict(),
            "layout": self.layout.to_dict(),
            "delivered": self.delivered,
            "wait_for_uri": self.wait_for_uri,
        }

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any]) -> PreparedRun:
        return cls(
            run_id=payload["run_id"],
            submission=Submission.from_dict(payload["submission"]),
            layout=RunLayout.from_dict(payload["layout"]),
            # Plans written before this field existed belong to runs still in flight.
            delivered=payload.get("delivered", False),
        )


def prepare_run(params: Mapping[str, Any], run_id: str, settings: PipelineSettings, s3: Any) -> PreparedRun:
    """Check the submission (allow-list, URL forms, email, steps) and that its bucket is readable."""
    submission = parse_submission(params, settings.allowed_buckets)
    prefix = run_prefix(settings.work_bucket, run_id)
    layout = RunLayout(prefix.bucket, prefix.key.rstrip("/"))
    prepared = PreparedRun(run_id, submission, layout, delivered=result_delivered(s3, layout))
    if prepared.delivered:
        log.info("run %s already delivered its result; nothing is redone, its outputs stay as sent", run_id)
    bucket = prepared.wait_for_uri.split("/")[2]
    try:
        s3.head_bucket(Bucket=bucket)
    except Exception:  # noqa: BLE001 - botocore raises ClientError or NoSuchBucket depending on the call
        raise SubmissionError(
            f"The bucket '{bucket}' does not exist or the pipeline is not allowed to read it."
        ) from None
    return prepared


def sfm_request(prepared: PreparedRun, settings: PipelineSettings) -> dict[str, Any]:
    assert prepared.submission.input is not None
    return build_sfm_request(
        settings,
        run_id=prepared.run_id,
        zip_uri=prepared.submission.input.uri,
        output_uri=prepared.layout.sfm_output,
    )


def training_request(prepared: PreparedRun, settings: PipelineSettings) -> dict[str, Any]:
    if prepared.runs_sfm:
        sfm_uri = prepared.layout.sfm_output
    else:
        assert prepared.submission.sfm_output is not None
        sfm_uri = prepared.submission.sfm_output.uri
    return build_training_request(
        settings,
        run_id=prepared.run_id,
        preset=prepared.submission.preset,
        sfm_uri=sfm_uri,
        output_uri=prepared.layout.training_output,
        checkpoint_uri=prepared.layout.checkpoints,
    )


def compress_request(
    prepared: PreparedRun, settings: PipelineSettings, training_result: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The model comes from this run's training job (its actual, possibly renamed, job) or the user."""
    if prepared.delivered:
        raise AirflowSkipException(f"run {prepared.run_id} already delivered its result; not compressing again")
    if prepared.runs_training:
        if not training_result:
            raise RuntimeError("the training task returned no job description")
        model_uri = training_result["Training"]["ModelArtifacts"]["S3ModelArtifacts"]
    else:
        assert prepared.submission.model is not None
        model_uri = prepared.submission.model.uri
    return build_compress_request(
        settings, run_id=prepared.run_id, model_uri=model_uri, output_uri=prepared.layout.compress_output
    )
