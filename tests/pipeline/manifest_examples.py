"""A whole run's manifest, as the publish task builds it, for the manifest and reprocessing tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from splatflow.pipeline.manifest import QualityMetrics, StageRecord, build_manifest
from splatflow.pipeline.s3_locations import S3Location
from splatflow.pipeline.submission import Submission

SUBMISSION = Submission(email="pilot@example.com", input=S3Location("drone-uploads", "survey/photos.zip"))
CREATED = datetime(2026, 5, 1, 12, 30, tzinfo=UTC)

SFM = StageRecord("sfm", "splat-sfm-abc", "ml.c6i.2xlarge", 1, seconds=600, billable_seconds=600)
TRAIN = StageRecord("train", "splat-train-abc", "ml.g4dn.xlarge", 1, seconds=1800, billable_seconds=600)
COMPRESS = StageRecord("compress", "splat-compress-abc", "ml.c6i.4xlarge", 1, seconds=120, billable_seconds=120)

SFM_REPORT = {"photos": {"received": 40, "decoded": 39, "registered": 37}, "points": 5000}
TRAIN_METRICS = {"psnr": 24.5, "ssim": 0.81, "gaussians": 250_000, "steps": 7000}
COMPRESS_REPORT = {"splats": 250_000, "ply_bytes": 59_000_000, "sog_bytes": 5_900_000, "ratio": 10.0}


def success_manifest(**overrides: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "run_id": "manual__2026-05-01T12:00:00+00:00",
        "submission": SUBMISSION,
        "stages": [SFM, TRAIN, COMPRESS],
        "quality": QualityMetrics.from_reports(SFM_REPORT, TRAIN_METRICS, COMPRESS_REPORT),
        "outputs": {
            "sog": S3Location("work", "runs/x/compress/scene.sog"),
            "ply": S3Location("work", "runs/x/compress/splat.ply"),
        },
        "created_at": CREATED,
        "run_started_at": CREATED - timedelta(minutes=45),
    }
    return build_manifest(**{**arguments, **overrides})
