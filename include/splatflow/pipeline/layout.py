"""Where a run keeps its objects: everything under ``s3://<work bucket>/runs/<run key>/``.

One prefix per run keeps runs apart (no cross-talk between concurrent submissions), makes a
run's cost and outputs easy to find, and lets the manifest, written last, mark it finished.

What the stage jobs write is kept per generation of the run. Clearing a run in Airflow makes a new
generation (``dag_run.clear_number``; its jobs are named ``<stem>-c<n>``, ``job_lookup``), which
must redo what was cleared: with one checkpoint folder per run, the new training job resumed the
old generation's last checkpoint, found itself finished and published the old model. The first
generation keeps the plain ``runs/<run key>/<stage>/`` folders; generation ``n`` writes under
``runs/<run key>/c<n>/<stage>/``. Retries within a generation share its folders, so a retried
training job still resumes. The manifest and the delivery record stay one per run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MANIFEST_NAME = "manifest.json"


@dataclass(frozen=True)
class RunLayout:
    bucket: str
    prefix: str
    """``runs/<run key>`` without a trailing slash."""
    generation: int = 0
    """The run's clear number the stage folders below belong to."""

    def in_generation(self, generation: int) -> RunLayout:
        return RunLayout(self.bucket, self.prefix, generation)

    def stage_key(self, stage: str, *parts: str) -> str:
        """The key of ``parts`` in this generation's folder of ``stage``."""
        scope = [f"c{self.generation}"] if self.generation else []
        return self.key(*scope, stage, *parts)

    def uri(self, *parts: str) -> str:
        return "s3://" + "/".join([self.bucket, self.prefix, *parts])

    def key(self, *parts: str) -> str:
        return "/".join([self.prefix, *parts])

    @property
    def sfm_output(self) -> str:
        return f"s3://{self.bucket}/{self.stage_key('sfm')}/"

    @property
    def training_output(self) -> str:
        return f"s3://{self.bucket}/{self.stage_key('train')}/"

    @property
    def checkpoints(self) -> str:
        """Shared by every attempt of this generation's training, so a retry resumes from its last
        one, and by no other generation."""
        return f"s3://{self.bucket}/{self.stage_key('checkpoints')}/"

    @property
    def compress_output(self) -> str:
        return f"s3://{self.bucket}/{self.stage_key('compress')}/"

    @property
    def manifest_key(self) -> str:
        return self.key(MANIFEST_NAME)

    @property
    def delivery_key(self) -> str:
        """Written once the email went out, so a cleared or re-run task never sends it twice."""
        return self.key("delivered.json")

    def to_dict(self) -> dict[str, Any]:
        return {
            "bucket": self.bucket,
            "prefix": self.prefix,
            **({"generation": self.generation} if self.generation else {}),
        }

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> RunLayout:
        return cls(payload["bucket"], payload["prefix"], int(payload.get("generation", 0)))
