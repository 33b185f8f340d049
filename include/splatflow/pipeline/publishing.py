"""Gather a run's reports and jobs into ``manifest.json``, written last, kept once written.

The manifest marks a run finished: the success email, the batch-reprocessing DAG and a user
all read it. It is written after every output exists, and a succeeded manifest is left alone
when a finished run is cleared or re-run, so a delivered result never changes underneath a link.
The one exception is a run whose stages ran again after it was published (a user cleared it
whole before its email went out; a delivered run redoes nothing): its outputs are new, so the
manifest that describes them is written again.

Each stage's files are read where its job wrote them: the folder of the run's generation the job
ran in (``layout``), which is not the current one when a user cleared only later steps.
"""

from __future__ import annotations

import gzip
import logging
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from splatflow.contract.outputs import (
    COMPRESSION_OUTPUTS,
    COMPRESSION_REPORT,
    LOD_FOLDER,
    MODEL_PLY,
    SFM_REPORT,
    TILE_CONTENT,
    TILESET,
    TRAINING_METRICS,
)
from splatflow.encryption import encryption_args
from splatflow.pipeline.job_lookup import STAGE_JOB_KINDS
from splatflow.pipeline.layout import RunLayout
from splatflow.pipeline.manifest import (
    FailureRecord,
    QualityMetrics,
    StageRecord,
    build_manifest,
)
from splatflow.pipeline.records import put_json, read_json
from splatflow.pipeline.run_plan import PreparedRun
from splatflow.pipeline.s3_locations import S3Location
from splatflow.pipeline.settings import PipelineSettings
from splatflow.pipeline.tileset import build_tileset, georegistered_origin
from splatflow.viewer import VIEWER_CONTENT_TYPE, VIEWER_FILE_NAME, viewer_page

log = logging.getLogger(__name__)


def put_viewer_page(
    s3: Any, layout: RunLayout, quality: QualityMetrics, run_id: str, kms_key_id: str | None
) -> S3Location:
    """The run's own ``viewer.html`` beside ``scene.sog``: a presigned link to it opens the splat.

    Stored gzipped with ``Content-Encoding: gzip``, which S3 returns with the object and every
    browser decodes: the inlined engine makes the page 2.6 MB, 0.67 MB gzipped, which is 1.6 s
    of a phone's 10 Mbit/s link saved before anything can be drawn.
    """
    key = layout.stage_key("compress", VIEWER_FILE_NAME)
    page = viewer_page({"run_id": run_id, "quality": quality.to_dict()}).encode()
    s3.put_object(
        Bucket=layout.bucket,
        Key=key,
        Body=gzip.compress(page, mtime=0),
        ContentType=VIEWER_CONTENT_TYPE,
        ContentEncoding="gzip",
        **encryption_args(kms_key_id),
    )
    return S3Location(layout.bucket, key)


def put_tileset(
    s3: Any,
    layout: RunLayout,
    sfm_report: Mapping[str, Any] | None,
    compression_report: Mapping[str, Any] | None,
    kms_key_id: str | None,
) -> tuple[S3Location | None, str | None]:
    """``tileset.json`` beside the compression job's tile content when the run is geo-registered;
    otherwise None and the reason, in the user's words, that the run has no place on the map."""
    origin, reason = georegistered_origin(sfm_report)
    tile = ((compression_report or {}).get("formats") or {}).get("tile")
    if origin is None:
        return None, reason
    if not isinstance(tile, Mapping) or tile.get("file") != TILE_CONTENT:
        return None, "the compression job made no 3D Tiles content (it ran before the tileset existed)"
    tileset = build_tileset(origin, TILE_CONTENT, list(tile["centre"]), float(tile["radius_m"]))
    location = S3Location(layout.bucket, layout.stage_key("compress", TILESET))
    put_json(s3, location.bucket, location.key, tileset, kms_key_id)
    return location, None


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


def layout_of_job(prepared: PreparedRun, descriptions: Mapping[str, Any], stage: str) -> RunLayout:
    """The run's layout in the generation whose folder the ``stage`` Processing job wrote to."""
    layout = prepared.layout
    description = descriptions.get(stage)
    if description is None:
        return layout
    written = description["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"].rstrip("/")
    match = re.fullmatch(rf"s3://{re.escape(layout.bucket)}/{re.escape(layout.prefix)}/(?:c(\d+)/)?{stage}", written)
    if match is None:
        raise RuntimeError(f"the {stage} job wrote to {written}, outside the run's folder {layout.uri()}")
    return layout.in_generation(int(match[1] or 0))


def _sfm_report(prepared: PreparedRun, s3: Any, descriptions: Mapping[str, Any]) -> dict[str, Any] | None:
    if prepared.runs_sfm:
        layout = layout_of_job(prepared, descriptions, "sfm")
        return read_json(s3, layout.bucket, layout.stage_key("sfm", SFM_REPORT))
    source = prepared.submission.sfm_output
    if source is not None:
        report = source.joinpath(SFM_REPORT)
        return read_json(s3, report.bucket, report.key)
    return None


def _listing(s3: Any, bucket: str, prefix: str) -> dict[str, int]:
    """Every key under ``prefix`` with its size (a streamed bundle can pass one listing page's 1,000 keys)."""
    present: dict[str, int] = {}
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    for page in pages:
        present.update({item["Key"]: int(item["Size"]) for item in page.get("Contents", [])})
    return present


def _trained_ply(s3: Any, model_folder: S3Location) -> tuple[S3Location, int]:
    """The ``.ply`` where the training job's uncompressed upload left it (``CompressionType: NONE``),
    and its size: the compression job read it there and made no copy."""
    ply = model_folder.joinpath(MODEL_PLY)
    try:
        head = s3.head_object(Bucket=ply.bucket, Key=ply.key)
    except ClientError as exc:
        raise RuntimeError(f"the training job left no {MODEL_PLY} in its model folder {model_folder.uri}") from exc
    return ply, int(head["ContentLength"])


def _outputs(
    prepared: PreparedRun, s3: Any, descriptions: Mapping[str, Any]
) -> tuple[dict[str, S3Location], dict[str, int]]:
    """The run's outputs by name, and the size in bytes of each file the compression job left."""
    layout = layout_of_job(prepared, descriptions, "compress")
    present = _listing(s3, layout.bucket, layout.stage_key("compress") + "/")
    outputs: dict[str, S3Location] = {}
    sizes: dict[str, int] = {}
    for name, file_name in COMPRESSION_OUTPUTS.items():
        key = layout.stage_key("compress", file_name)
        if key in present:
            outputs[name] = S3Location(layout.bucket, key)
            sizes[name] = present[key]
    if "lod" in outputs:
        # The streamed bundle is a folder: its size is every file in it, the index included.
        folder = layout.stage_key("compress", LOD_FOLDER) + "/"
        sizes["lod"] = sum(size for key, size in present.items() if key.startswith(folder))
    if "train" in descriptions:
        model = descriptions["train"]["ModelArtifacts"]["S3ModelArtifacts"]
        bucket, _, key = model.removeprefix("s3://").partition("/")
        outputs["model"] = S3Location(bucket, key)
        if "ply" not in outputs and key.endswith("/"):
            outputs["ply"], sizes["ply"] = _trained_ply(s3, outputs["model"])
    if prepared.runs_sfm:
        sfm = layout_of_job(prepared, descriptions, "sfm")
        outputs["sfm"] = S3Location(sfm.bucket, sfm.stage_key("sfm") + "/")
    return outputs, sizes


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
    outputs, sizes = _outputs(prepared, s3, descriptions)
    missing = [name for name in ("sog", "ply") if name not in outputs]
    compressed = layout_of_job(prepared, descriptions, "compress")
    if missing:
        raise RuntimeError(f"the compression job left no {' or '.join(missing)} under {compressed.compress_output}")
    sfm_report = _sfm_report(prepared, s3, descriptions)
    compression_report = read_json(s3, layout.bucket, compressed.stage_key("compress", COMPRESSION_REPORT))
    quality = QualityMetrics.from_reports(
        sfm_report=sfm_report,
        training_metrics=read_json(s3, layout.bucket, compressed.stage_key("compress", TRAINING_METRICS)),
        compression_report=compression_report,
    )
    tileset, no_tileset = put_tileset(s3, compressed, sfm_report, compression_report, settings.kms_key_id)
    if tileset is not None:
        outputs["tileset"] = tileset
        outputs["tile"] = S3Location(compressed.bucket, compressed.stage_key("compress", TILE_CONTENT))
        for name in ("tileset", "tile"):
            sizes[name] = int(s3.head_object(Bucket=layout.bucket, Key=outputs[name].key)["ContentLength"])
    outputs["viewer"] = put_viewer_page(s3, compressed, quality, prepared.run_id, settings.kms_key_id)
    manifest = build_manifest(
        run_id=prepared.run_id,
        submission=prepared.submission,
        stages=_stage_records(descriptions),
        quality=quality,
        outputs=outputs,
        output_bytes=sizes,
        no_tileset=no_tileset,
        run_started_at=run_started_at,
    )
    put_json(s3, layout.bucket, layout.manifest_key, manifest, settings.kms_key_id)
    log.info("run %s published: s3://%s/%s", prepared.run_id, layout.bucket, layout.manifest_key)
    return manifest


def record_failure(
    prepared: PreparedRun, settings: PipelineSettings, s3: Any, failure: FailureRecord
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
        failure=failure,
    )
    put_json(s3, layout.bucket, layout.manifest_key, manifest, settings.kms_key_id)
    return manifest
