"""``manifest.json``: the record of one run, written last, so its presence means the run finished.

It says what was submitted, which jobs ran on what, how long each took and what it cost, how
good the result is and where the outputs are. The success email shows its figures, and the
batch-reprocessing DAG reads it back to find submissions that failed or were made by an older
pipeline version.

Everything here is plain data in, plain JSON out: the publish task gathers the jobs'
descriptions and the stages' reports and calls :func:`build_manifest`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from splatflow import __version__
from splatflow.contract.failures import FailureCode
from splatflow.pipeline.job_lookup import container_reason
from splatflow.pipeline.pricing import PRICE_REGION, estimate_cost, spot_savings
from splatflow.pipeline.s3_locations import S3Location
from splatflow.pipeline.submission import Submission

log = logging.getLogger(__name__)

MANIFEST_VERSION = 1
"""The layout of the manifest itself; raise it when a field changes meaning or disappears."""

StageName = Literal["sfm", "train", "compress"]
RunStatus = Literal["succeeded", "failed"]
COMPLETED = "Completed"


@dataclass(frozen=True)
class StageRecord:
    """One SageMaker job of the run: what it ran on, for how long, and how it ended.

    ``seconds`` is the job's run time on its instances; ``billable_seconds`` what SageMaker bills
    per instance (lower than ``seconds`` for managed spot training, equal for Processing jobs).
    """

    stage: StageName
    job_name: str
    instance_type: str
    instance_count: int
    seconds: float
    billable_seconds: float
    status: str = COMPLETED
    failure_reason: str | None = None

    @property
    def cost_usd(self) -> float | None:
        return estimate_cost(self.instance_type, self.instance_count, self.billable_seconds)

    @classmethod
    def from_training_job(cls, stage: StageName, description: Mapping[str, Any]) -> StageRecord:
        """From a ``DescribeTrainingJob`` response, which carries its own run and billable times."""
        resources = description["ResourceConfig"]
        seconds = float(description.get("TrainingTimeInSeconds") or 0)
        return cls(
            stage=stage,
            job_name=description["TrainingJobName"],
            instance_type=resources["InstanceType"],
            instance_count=int(resources.get("InstanceCount", 1)),
            seconds=seconds,
            billable_seconds=float(description.get("BillableTimeInSeconds") or seconds),
            status=description["TrainingJobStatus"],
            failure_reason=description.get("FailureReason"),
        )

    @classmethod
    def from_processing_job(cls, stage: StageName, description: Mapping[str, Any]) -> StageRecord:
        """From a ``DescribeProcessingJob`` response; a Processing job bills from its start to its end.

        The times may be ``datetime`` objects (boto3) or ISO-8601 strings (JSON).
        """
        cluster = description["ProcessingResources"]["ClusterConfig"]
        started, ended = description.get("ProcessingStartTime"), description.get("ProcessingEndTime")
        seconds = (as_datetime(ended) - as_datetime(started)).total_seconds() if started and ended else 0.0
        return cls(
            stage=stage,
            job_name=description["ProcessingJobName"],
            instance_type=cluster["InstanceType"],
            instance_count=int(cluster.get("InstanceCount", 1)),
            seconds=max(seconds, 0.0),
            billable_seconds=max(seconds, 0.0),
            status=description["ProcessingJobStatus"],
            failure_reason=container_reason(description) or None,
        )

    def to_dict(self) -> dict[str, Any]:
        cost = self.cost_usd
        saved = spot_savings(self.seconds, self.billable_seconds)
        return {
            "job_name": self.job_name,
            "instance_type": self.instance_type,
            "instance_count": self.instance_count,
            "status": self.status,
            "seconds": round(self.seconds, 3),
            "billable_seconds": round(self.billable_seconds, 3),
            "spot_savings": None if saved is None else round(saved, 3),
            "cost_usd": None if cost is None else round(cost, 6),
            "failure_reason": self.failure_reason,
        }


def as_datetime(value: datetime | str) -> datetime:
    """A timezone-aware moment; a naive one (or one from JSON) is taken as UTC, as AWS reports them."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class QualityMetrics:
    """The figures a user judges the result by; None where the run did not produce one."""

    photos_received: int | None = None
    photos_registered: int | None = None
    psnr_db: float | None = None
    """Held-out PSNR of the trained splat against photos it never saw."""
    ssim: float | None = None
    gaussians: int | None = None
    ply_bytes: int | None = None
    sog_bytes: int | None = None
    spz_bytes: int | None = None
    glb_bytes: int | None = None
    lod_bytes: int | None = None
    """The streamed LOD bundle, every file of it; None for a model small enough to need none."""
    lod_first_frame_bytes: int | None = None
    """What the viewer fetches of the bundle before its first frame (index, coarsest level, environment)."""

    @property
    def compression_ratio(self) -> float | None:
        if not self.ply_bytes or not self.sog_bytes:
            return None
        return self.ply_bytes / self.sog_bytes

    @classmethod
    def from_reports(
        cls,
        sfm_report: Mapping[str, Any] | None = None,
        training_metrics: Mapping[str, Any] | None = None,
        compression_report: Mapping[str, Any] | None = None,
    ) -> QualityMetrics:
        """From the stages' own reports (SfM ``report.json``, training ``metrics.json``, compression
        ``report.json``); a stage a partial run skipped passes None, a missing figure stays None."""
        sfm, train, compress = sfm_report or {}, training_metrics or {}, compression_report or {}
        return cls(
            photos_received=_count(sfm, "photos", "received"),
            photos_registered=_count(sfm, "photos", "registered"),
            psnr_db=_number(train, "psnr"),
            ssim=_number(train, "ssim"),
            gaussians=_count(train, "gaussians") if "gaussians" in train else _count(compress, "splats"),
            ply_bytes=_count(compress, "ply_bytes"),
            sog_bytes=_count(compress, "sog_bytes"),
            spz_bytes=_count(compress, "formats", "spz", "bytes"),
            glb_bytes=_count(compress, "formats", "glb", "bytes"),
            lod_bytes=_count(compress, "formats", "lod", "bytes"),
            lod_first_frame_bytes=_count(compress, "formats", "lod", "first_frame_bytes"),
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QualityMetrics:
        """The figures :meth:`to_dict` wrote (the compression ratio is derived, not read)."""
        return cls(
            photos_received=_count(data, "photos_received"),
            photos_registered=_count(data, "photos_registered"),
            psnr_db=_number(data, "psnr_db"),
            ssim=_number(data, "ssim"),
            gaussians=_count(data, "gaussians"),
            ply_bytes=_count(data, "ply_bytes"),
            sog_bytes=_count(data, "sog_bytes"),
            spz_bytes=_count(data, "spz_bytes"),
            glb_bytes=_count(data, "glb_bytes"),
            lod_bytes=_count(data, "lod_bytes"),
            lod_first_frame_bytes=_count(data, "lod_first_frame_bytes"),
        )

    def to_dict(self) -> dict[str, Any]:
        ratio = self.compression_ratio
        return {
            "photos_received": self.photos_received,
            "photos_registered": self.photos_registered,
            "psnr_db": self.psnr_db,
            "ssim": self.ssim,
            "gaussians": self.gaussians,
            "ply_bytes": self.ply_bytes,
            "sog_bytes": self.sog_bytes,
            "spz_bytes": self.spz_bytes,
            "glb_bytes": self.glb_bytes,
            "lod_bytes": self.lod_bytes,
            "lod_first_frame_bytes": self.lod_first_frame_bytes,
            "compression_ratio": None if ratio is None else round(ratio, 3),
        }


def _number(report: Mapping[str, Any], *path: str) -> float | None:
    """A finite number at ``path`` in a report, or None (absent, null, text, NaN all read as unknown)."""
    value: Any = report
    for name in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _count(report: Mapping[str, Any], *path: str) -> int | None:
    value = _number(report, *path)
    return None if value is None or value < 0 or value != int(value) else int(value)


@dataclass(frozen=True)
class FailureRecord:
    """Which stage failed, with which code, and the reason it gave (already in the user's words).

    The code is what batch reprocessing decides by: a ``NO_OVERLAP`` ZIP fails the same way again.
    """

    stage: str
    code: FailureCode
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"stage": self.stage, "code": self.code.value, "reason": self.reason}


def build_manifest(
    *,
    run_id: str,
    submission: Submission,
    stages: Iterable[StageRecord],
    quality: QualityMetrics,
    outputs: Mapping[str, S3Location],
    output_bytes: Mapping[str, int] | None = None,
    no_tileset: str | None = None,
    failure: FailureRecord | None = None,
    run_started_at: datetime | None = None,
    created_at: datetime | None = None,
) -> dict[str, Any]:
    """The manifest of a finished run; ``failure`` decides whether it is ``succeeded`` or ``failed``.

    A run that claims success while one of its jobs did not complete is a bug in the caller,
    refused here so no half-finished run is ever recorded as finished.
    """
    records = list(stages)
    names = [record.stage for record in records]
    if len(set(names)) != len(names):
        raise ValueError(f"a stage is listed twice: {names}")
    unfinished = [record.stage for record in records if record.status != COMPLETED]
    if failure is None and unfinished:
        raise ValueError(f"a succeeded run cannot hold unfinished jobs ({', '.join(unfinished)})")
    created = as_datetime(created_at or datetime.now(UTC)).astimezone(UTC)
    costs = [record.cost_usd for record in records]
    known_costs = [cost for cost in costs if cost is not None]
    status: RunStatus = "failed" if failure else "succeeded"
    return {
        "manifest_version": MANIFEST_VERSION,
        "pipeline_version": __version__,
        "status": status,
        "run_id": run_id,
        "created_at": created.isoformat(),
        "submission": submission.to_dict(),
        "stages": {record.stage: record.to_dict() for record in records},
        "compute_seconds": round(sum(record.seconds for record in records), 3),
        "run_seconds": None
        if run_started_at is None
        else round((created - as_datetime(run_started_at)).total_seconds(), 3),
        # A total that leaves out an unpriced job would be a guess presented as a fact.
        "total_cost_usd": round(sum(known_costs), 6) if len(known_costs) == len(costs) else None,
        "cost_basis": f"SageMaker on-demand prices, {PRICE_REGION}; an estimate",
        "quality": quality.to_dict(),
        "outputs": {name: location.uri for name, location in sorted(outputs.items())},
        # Each delivered file's size, so the record says what a download costs (folders have none).
        "output_bytes": dict(sorted((output_bytes or {}).items())),
        # Why a run delivers no 3D Tiles tileset (not geo-registered, say); None when it does.
        "no_tileset": no_tileset,
        "failure": None if failure is None else failure.to_dict(),
    }
