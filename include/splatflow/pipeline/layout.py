"""Where a run keeps its objects: everything under ``s3://<work bucket>/runs/<run key>/``.

One prefix per run keeps runs apart (no cross-talk between concurrent submissions), makes a
run's cost and outputs easy to find, and lets the manifest, written last, mark it finished.
"""

from __future__ import annotations

from dataclasses import dataclass

MANIFEST_NAME = "manifest.json"


@dataclass(frozen=True)
class RunLayout:
    bucket: str
    prefix: str
    """``runs/<run key>`` without a trailing slash."""

    def uri(self, *parts: str) -> str:
        return "s3://" + "/".join([self.bucket, self.prefix, *parts])

    def key(self, *parts: str) -> str:
        return "/".join([self.prefix, *parts])

    @property
    def sfm_output(self) -> str:
        return self.uri("sfm") + "/"

    @property
    def training_output(self) -> str:
        return self.uri("train") + "/"

    @property
    def checkpoints(self) -> str:
        """Shared by every attempt of the run's training, so a retry resumes from the last one."""
        return self.uri("checkpoints") + "/"

    @property
    def compress_output(self) -> str:
        return self.uri("compress") + "/"

    @property
    def manifest_key(self) -> str:
        return self.key(MANIFEST_NAME)

    @property
    def delivery_key(self) -> str:
        """Written once the email went out, so a cleared or re-run task never sends it twice."""
        return self.key("delivered.json")

    def to_dict(self) -> dict[str, str]:
        return {"bucket": self.bucket, "prefix": self.prefix}

    @classmethod
    def from_dict(cls, payload: dict[str, str]) -> RunLayout:
        return cls(payload["bucket"], payload["prefix"])
