"""The run manifest: built from job descriptions and stage reports, JSON-safe, read back for reprocessing."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import pytest
from manifest_examples import (
    COMPRESS,
    COMPRESS_REPORT,
    SFM,
    SFM_REPORT,
    SUBMISSION,
    TRAIN_METRICS,
    success_manifest,
)

import splatflow
from splatflow.contract.failures import FailureCode
from splatflow.pipeline.manifest import (
    MANIFEST_VERSION,
    FailureRecord,
    QualityMetrics,
    StageRecord,
)
from splatflow.pipeline.pricing import estimate_cost

# --- stage records --------------------------------------------------------------------------------


def test_a_training_job_description_gives_run_and_billable_time() -> None:
    record = StageRecord.from_training_job(
        "train",
        {
            "TrainingJobName": "splat-train-abc",
            "TrainingJobStatus": "Completed",
            "ResourceConfig": {"InstanceType": "ml.g4dn.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 50},
            "TrainingTimeInSeconds": 1800,
            "BillableTimeInSeconds": 540,
            "EnableManagedSpotTraining": True,
        },
    )
    assert record == StageRecord("train", "splat-train-abc", "ml.g4dn.xlarge", 1, 1800.0, 540.0, "Completed")
    assert record.cost_usd == pytest.approx(estimate_cost("ml.g4dn.xlarge", 1, 540))


def test_a_failed_training_job_keeps_its_reason_and_bills_what_it_ran() -> None:
    record = StageRecord.from_training_job(
        "train",
        {
            "TrainingJobName": "splat-train-abc",
            "TrainingJobStatus": "Failed",
            "FailureReason": "AlgorithmError: train: training diverged",
            "ResourceConfig": {"InstanceType": "ml.g4dn.xlarge", "InstanceCount": 1},
            "TrainingTimeInSeconds": 90,
        },
    )
    assert (record.status, record.failure_reason, record.billable_seconds) == (
        "Failed",
        "AlgorithmError: train: training diverged",
        90.0,
    )


@pytest.mark.parametrize(
    ("started", "ended"),
    [
        (datetime(2026, 5, 1, 12, 0, tzinfo=UTC), datetime(2026, 5, 1, 12, 10, 30, tzinfo=UTC)),
        ("2026-05-01T12:00:00+00:00", "2026-05-01T12:10:30Z"),
        (datetime(2026, 5, 1, 12, 0), "2026-05-01T12:10:30+00:00"),
    ],
)
def test_a_processing_job_bills_from_its_start_to_its_end(started: object, ended: object) -> None:
    record = StageRecord.from_processing_job(
        "sfm",
        {
            "ProcessingJobName": "splat-sfm-abc",
            "ProcessingJobStatus": "Completed",
            "ProcessingResources": {"ClusterConfig": {"InstanceType": "ml.c6i.2xlarge", "InstanceCount": 2}},
            "ProcessingStartTime": started,
            "ProcessingEndTime": ended,
        },
    )
    assert (record.seconds, record.billable_seconds, record.instance_count) == (630.0, 630.0, 2)
    assert record.cost_usd == pytest.approx(estimate_cost("ml.c6i.2xlarge", 2, 630))


def test_a_processing_job_that_never_started_ran_for_no_time() -> None:
    record = StageRecord.from_processing_job(
        "compress",
        {
            "ProcessingJobName": "splat-compress-abc",
            "ProcessingJobStatus": "Failed",
            "FailureReason": "CapacityError: Unable to provision requested ML compute capacity",
            "ProcessingResources": {"ClusterConfig": {"InstanceType": "ml.c6i.4xlarge", "InstanceCount": 1}},
        },
    )
    assert record.seconds == 0 and record.cost_usd == 0


# --- quality --------------------------------------------------------------------------------------


def test_quality_comes_from_the_three_stage_reports() -> None:
    quality = QualityMetrics.from_reports(SFM_REPORT, TRAIN_METRICS, COMPRESS_REPORT)
    assert quality == QualityMetrics(
        photos_received=40,
        photos_registered=37,
        psnr_db=24.5,
        ssim=0.81,
        gaussians=250_000,
        ply_bytes=59_000_000,
        sog_bytes=5_900_000,
    )
    assert quality.compression_ratio == pytest.approx(10.0)


def test_a_compress_only_run_counts_gaussians_from_the_compression_report() -> None:
    quality = QualityMetrics.from_reports(None, None, COMPRESS_REPORT)
    assert (quality.gaussians, quality.photos_registered, quality.psnr_db) == (250_000, None, None)


@pytest.mark.parametrize(
    "metrics",
    [{"psnr": math.nan}, {"psnr": "24.5"}, {"psnr": None}, {"psnr": True}, {"psnr": math.inf}, {}],
)
def test_an_odd_figure_is_unknown_not_guessed(metrics: dict[str, object]) -> None:
    assert QualityMetrics.from_reports(training_metrics=metrics).psnr_db is None


@pytest.mark.parametrize(
    "report", [{"photos": "many"}, {"photos": {"registered": -3}}, {"photos": {"registered": 2.5}}]
)
def test_an_odd_count_is_unknown(report: dict[str, object]) -> None:
    assert QualityMetrics.from_reports(sfm_report=report).photos_registered is None


def test_no_compression_ratio_without_both_sizes() -> None:
    assert QualityMetrics(ply_bytes=100).compression_ratio is None
    assert QualityMetrics(ply_bytes=100, sog_bytes=0).compression_ratio is None


# --- the manifest ---------------------------------------------------------------------------------


def test_a_success_manifest_holds_every_required_field_and_is_strict_json() -> None:
    manifest = success_manifest()
    text = json.dumps(manifest, allow_nan=False)
    assert json.loads(text) == manifest
    assert manifest["manifest_version"] == MANIFEST_VERSION
    assert manifest["pipeline_version"] == splatflow.__version__
    assert manifest["status"] == "succeeded"
    assert manifest["created_at"] == "2026-05-01T12:30:00+00:00"
    assert manifest["submission"] == SUBMISSION.to_dict()
    assert list(manifest["stages"]) == ["sfm", "train", "compress"]
    assert manifest["stages"]["train"]["job_name"] == "splat-train-abc"
    assert manifest["stages"]["train"]["billable_seconds"] == 600
    assert manifest["stages"]["train"]["spot_savings"] == pytest.approx(2 / 3, abs=1e-3)
    assert manifest["stages"]["sfm"]["spot_savings"] == 0
    assert manifest["compute_seconds"] == 2520
    assert manifest["run_seconds"] == 45 * 60
    assert manifest["quality"]["photos_registered"] == 37
    assert manifest["quality"]["compression_ratio"] == 10.0
    assert manifest["outputs"] == {
        "ply": "s3://work/runs/x/compress/splat.ply",
        "sog": "s3://work/runs/x/compress/scene.sog",
    }
    assert manifest["failure"] is None


def test_the_total_cost_is_the_sum_of_the_stage_estimates() -> None:
    manifest = success_manifest()
    by_stage = [stage["cost_usd"] for stage in manifest["stages"].values()]
    assert all(cost > 0 for cost in by_stage)
    assert manifest["total_cost_usd"] == pytest.approx(sum(by_stage))
    assert manifest["stages"]["train"]["cost_usd"] == pytest.approx(estimate_cost("ml.g4dn.xlarge", 1, 600), abs=1e-6)


def test_an_unpriced_instance_leaves_the_total_unknown() -> None:
    odd = StageRecord("train", "splat-train-abc", "ml.p9.mega", 1, seconds=60, billable_seconds=60)
    manifest = success_manifest(stages=[SFM, odd, COMPRESS])
    assert manifest["stages"]["train"]["cost_usd"] is None
    assert manifest["stages"]["sfm"]["cost_usd"] is not None
    assert manifest["total_cost_usd"] is None


def test_a_failure_manifest_names_the_stage_its_code_and_reason() -> None:
    failed_training = StageRecord(
        "train", "splat-train-abc", "ml.g4dn.xlarge", 1, 90, 90, "Failed", "AlgorithmError: train: diverged"
    )
    manifest = success_manifest(
        stages=[SFM, failed_training],
        quality=QualityMetrics.from_reports(SFM_REPORT),
        outputs={},
        failure=FailureRecord("train", FailureCode.DIVERGED, "training diverged at step 300"),
    )
    assert manifest["status"] == "failed"
    assert manifest["failure"] == {"stage": "train", "code": "DIVERGED", "reason": "training diverged at step 300"}
    assert manifest["stages"]["train"]["status"] == "Failed"
    json.dumps(manifest, allow_nan=False)


def test_a_run_with_an_unfinished_job_cannot_be_recorded_as_succeeded() -> None:
    stopped = StageRecord("train", "splat-train-abc", "ml.g4dn.xlarge", 1, 90, 90, "Stopped")
    with pytest.raises(ValueError, match="unfinished jobs"):
        success_manifest(stages=[SFM, stopped])


def test_a_stage_cannot_be_listed_twice() -> None:
    with pytest.raises(ValueError, match="twice"):
        success_manifest(stages=[SFM, SFM])


def test_created_at_defaults_to_now_in_utc() -> None:
    before = datetime.now(UTC)
    manifest = success_manifest(created_at=None, run_started_at=None)
    created = datetime.fromisoformat(manifest["created_at"])
    assert created.tzinfo is not None and before <= created <= datetime.now(UTC)
    assert manifest["run_seconds"] is None


# --- reading manifests back for reprocessing ----------------------------------------------------------


def test_the_spz_and_glb_sizes_come_from_the_compression_report() -> None:
    report = {**COMPRESS_REPORT, "formats": {"spz": {"bytes": 7_200_000}, "glb": {"bytes": 61_500_000}}}
    quality = QualityMetrics.from_reports(SFM_REPORT, TRAIN_METRICS, report)
    assert (quality.spz_bytes, quality.glb_bytes) == (7_200_000, 61_500_000)
    assert QualityMetrics.from_dict(quality.to_dict()) == quality
    assert QualityMetrics.from_reports(SFM_REPORT, TRAIN_METRICS, COMPRESS_REPORT).spz_bytes is None


def test_the_streamed_bundles_sizes_come_from_the_compression_report() -> None:
    report = {**COMPRESS_REPORT, "formats": {"lod": {"bytes": 41_000_000, "first_frame_bytes": 600_000}}}
    quality = QualityMetrics.from_reports(SFM_REPORT, TRAIN_METRICS, report)
    assert (quality.lod_bytes, quality.lod_first_frame_bytes) == (41_000_000, 600_000)
    assert QualityMetrics.from_dict(quality.to_dict()) == quality
    assert QualityMetrics.from_reports(SFM_REPORT, TRAIN_METRICS, COMPRESS_REPORT).lod_bytes is None
