"""Gather a run's reports and jobs into ``manifest.json``, written last, kept once written.

The manifest marks a run finished: the success email, the batch-reprocessing DAG and a user
all read it. It is written after every output exists, and a succeeded manifest is left alone
when a finished run is cleared or re-run, so a delivered result never changes underneath a link.
The one exception is a run whose stages ran again after it was published (a user cleared it
whole before its email went out; a delivered run redoes nothing): its outputs are new, so the
manifest that describes them is written again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from splatflow.encryption import encryption_args
from splatflow.pipeline.jobs import STAGE_JOB_KINDS
from splatflow.pipeline.layout import RunLayout
from splatflow.pipeline.manifest import (
    FailureRecord,
    QualityMetrics,
    StageRecord,
    build_manifest,
)
from splatflow.pipeline.notifications import ResultLinks
from splatflow.pipeline.settings import PipelineSettings
from splatflow.pipeline.submission import S3Location
from splatflow.viewer import VIEWER_CONTENT_TYPE, VIEWER_FILE_NAME, viewer_link, viewer_page

if TYPE_CHECKING:
    # Annotations only: preparation imports delivery, which imports this module.
    from splatflow.pipeline.preparation import PreparedRun

log = logging.getLogger(__name__)

OUTPUT_FILES = {
    "sog": "scene.sog",
    "ply": "splat.ply",
    "preview": "preview.png",
    "orbit_1": "orbit_1.png",
    "orbit_2": "orbit_2.png",
    "orbit_3": "orbit_3.png",
    "compression_report": "report.json",
    "training_metrics": "metrics.json",
}
"""Outputs of the compression job (it carries the training metrics and a preview along)."""


def read_json(s3: Any, bucket: str, key: str) -> dict[str, Any] | None:
    """A JSON object from S3, or None when it does not exist."""
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    value = json.loads(body)
    return value if isinstance(value, dict) else None


def put_json(s3: Any, bucket: str, key: str, payload: Mapping[str, Any], kms_key_id: str | None) -> None:
    s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=json.dumps(payload, indent=1).encode(),
        ContentType="application/json",
        **encryption_args(kms_key_id),
    )


def put_viewer_page(
    s3: Any, layout: RunLayout, quality: QualityMetrics, run_id: str, kms_key_id: str | None
) -> S3Location:
    """The run's own ``viewer.html`` beside ``scene.sog``: a presigned link to it opens the splat."""
    key = layout.key("compress", VIEWER_FILE_NAME)
    s3.put_object(
        Bucket=layout.bucket,
        Key=key,
        Body=viewer_page({"run_id": run_id, "quality": quality.to_dict()}).encode(),
        ContentType=VIEWER_CONTENT_TYPE,
        **encryption_args(kms_key_id),
    )
    return S3Location(layout.bucket, key)


def describe_stage_jobs(results: Mapping[str, Any], sagemaker: Any) -> dict[str, dict[str, Any]]:
    """Fresh Describe responses for the jobs the stage tasks ran (their XCom holds only strings)."""
    descriptions = {}
    for stage, kind in STAGE_JOB_KINDS.items():
        result = results.get(stage)
        if result:
            noun = kind.capitalize()
            name = result[noun][f"{noun}JobName"]
            describe = getattr(sagemaker, f"describe_{kind}_job")
            descriptions[stage] = describe(**{f"{noun}JobName": name})
    return descriptions


def stage_job_names(descriptions: Mapping[str, Any]) -> dict[str, str]:
    """Each stage's job name, from its Describe response (as the manifest records them)."""
    return {
        stage: description[f"{STAGE_JOB_KINDS[stage].capitalize()}JobName"]
        for stage, description in descriptions.items()
    }


def _stage_records(descriptions: Mapping[str, Any]) -> list[StageRecord]:
    records = []
    if "sfm" in descriptions:
        records.append(StageRecord.from_processing_job("sfm", descriptions["sfm"]))
    if "train" in descriptions:
        records.append(StageRecord.from_training_job("train", descriptions["train"]))
    if "compress" in descriptions:
        records.append(StageRecord.from_processing_job("compress", descriptions["compress"]))
    return records


def _sfm_report(prepared: PreparedRun, s3: Any) -> dict[str, Any] | None:
    if prepared.runs_sfm:
        return read_json(s3, prepared.layout.bucket, prepared.layout.key("sfm", "report.json"))
    source = prepared.submission.sfm_output
    if source is not None:
        return read_json(s3, source.bucket, source.key.rstrip("/") + "/report.json")
    return None


def _outputs(prepared: PreparedRun, s3: Any, descriptions: Mapping[str, Any]) -> dict[str, S3Location]:
    layout = prepared.layout
    listing = s3.list_objects_v2(Bucket=layout.bucket, Prefix=layout.key("compress") + "/")
    present = {item["Key"] for item in listing.get("Contents", [])}
    outputs: dict[str, S3Location] = {}
    for name, file_name in OUTPUT_FILES.items():
        key = layout.key("compress", file_name)
        if key in present:
            outputs[name] = S3Location(layout.bucket, key)
    if "train" in descriptions:
        model = descriptions["train"]["ModelArtifacts"]["S3ModelArtifacts"]
        bucket, _, key = model.removeprefix("s3://").partition("/")
        outputs["model"] = S3Location(bucket, key)
    if prepared.runs_sfm:
        outputs["sfm"] = S3Location(layout.bucket, layout.key("sfm") + "/")
    return outputs


def publish_run(
    prepared: PreparedRun,
    settings: PipelineSettings,
    s3: Any,
    descriptions: Mapping[str, Any],
    run_started_at: datetime | None = None,
) -> dict[str, Any]:
    """Write the succeeded manifest and return it; an existing one is kept and returned unless
    the stages ran again since it was written (see the module's docstring).

    ``descriptions`` maps each stage that ran to its job's Describe response.
    """
    layout = prepared.layout
    existing = read_json(s3, layout.bucket, layout.manifest_key)
    if existing is not None and existing.get("status") == "succeeded":
        published = {stage: record.get("job_name") for stage, record in existing.get("stages", {}).items()}
        if prepared.delivered or published == stage_job_names(descriptions):
            log.info("run %s was already published; keeping its manifest and outputs", prepared.run_id)
            return existing
        log.info(
            "run %s: its stages ran again since it was published (%s); publishing again", prepared.run_id, published
        )
    outputs = _outputs(prepared, s3, descriptions)
    missing = [name for name in ("sog", "ply") if name not in outputs]
    if missing:
        raise RuntimeError(f"the compression job left no {' or '.join(missing)} under {layout.compress_output}")
    quality = QualityMetrics.from_reports(
        sfm_report=_sfm_report(prepared, s3),
        training_metrics=read_json(s3, layout.bucket, layout.key("compress", OUTPUT_FILES["training_metrics"])),
        compression_report=read_json(s3, layout.bucket, layout.key("compress", OUTPUT_FILES["compression_report"])),
    )
    outputs["viewer"] = put_viewer_page(s3, layout, quality, prepared.run_id, settings.kms_key_id)
    manifest = build_manifest(
        run_id=prepared.run_id,
        submission=prepared.submission,
        stages=_stage_records(descriptions),
        quality=quality,
        outputs=outputs,
        run_started_at=run_started_at,
    )
    put_json(s3, layout.bucket, layout.manifest_key, manifest, settings.kms_key_id)
    log.info("run %s published: s3://%s/%s", prepared.run_id, layout.bucket, layout.manifest_key)
    return manifest


def record_failure(
    prepared: PreparedRun, settings: PipelineSettings, s3: Any, stage: str, reason: str
) -> dict[str, Any] | None:
    """A failed manifest, so batch reprocessing finds the submission; a succeeded one is never replaced."""
    layout = prepared.layout
    existing = read_json(s3, layout.bucket, layout.manifest_key)
    if existing is not None and existing.get("status") == "succeeded":
        return None
    manifest = build_manifest(
        run_id=prepared.run_id,
        submission=prepared.submission,
        stages=[],
        quality=QualityMetrics(),
        outputs={},
        failure=FailureRecord(stage, reason),
    )
    put_json(s3, layout.bucket, layout.manifest_key, manifest, settings.kms_key_id)
    return manifest


def presigned_links(manifest: Mapping[str, Any], settings: PipelineSettings, s3: Any) -> ResultLinks:
    """Download and viewer links that work from the email alone, valid for the configured time."""

    def presign(uri: str) -> str:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        url: str = s3.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=settings.presign_expiry_seconds
        )
        return url

    outputs = manifest["outputs"]
    sog = presign(outputs["sog"])
    expires_at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=settings.presign_expiry_seconds)
    return ResultLinks(
        sog=sog, ply=presign(outputs["ply"]), viewer=viewer_link(presign(outputs["viewer"]), sog), expires_at=expires_at
    )
