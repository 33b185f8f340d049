"""Job records: what the runner knows about each job, and the Describe/List shapes built from it.

Processing and Training jobs differ mostly in field names (``ProcessingJobStatus`` versus
``TrainingJobStatus``…), so one record type serves both and a ``JobKind`` holds the names.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

ACCOUNT_ID = "000000000000"
"""The account id moto and this runner answer with (no real account is involved locally)."""

ACTIVE_STATES = frozenset({"InProgress", "Stopping"})


@dataclass(frozen=True)
class JobKind:
    """The names one kind of job uses in the API and in CloudWatch Logs."""

    key: Literal["processing", "training"]
    noun: str
    """``ProcessingJob`` or ``TrainingJob``: the stem of every field and operation name."""
    arn_type: str
    start_field: str
    end_field: str
    log_group: str

    @property
    def name_field(self) -> str:
        return f"{self.noun}Name"

    @property
    def arn_field(self) -> str:
        return f"{self.noun}Arn"

    @property
    def status_field(self) -> str:
        return f"{self.noun}Status"

    @property
    def summaries_field(self) -> str:
        return f"{self.noun}Summaries"


PROCESSING = JobKind(
    key="processing",
    noun="ProcessingJob",
    arn_type="processing-job",
    start_field="ProcessingStartTime",
    end_field="ProcessingEndTime",
    log_group="/aws/sagemaker/ProcessingJobs",
)
TRAINING = JobKind(
    key="training",
    noun="TrainingJob",
    arn_type="training-job",
    start_field="TrainingStartTime",
    end_field="TrainingEndTime",
    log_group="/aws/sagemaker/TrainingJobs",
)
KINDS = {kind.key: kind for kind in (PROCESSING, TRAINING)}


@dataclass
class JobRecord:
    """One job's request and state; serialised as JSON by the store."""

    kind_key: Literal["processing", "training"]
    name: str
    region: str
    request: dict[str, Any]
    status: str = "InProgress"
    secondary_status: str = "Starting"
    creation_time: float = field(default_factory=time.time)
    last_modified_time: float = field(default_factory=time.time)
    start_time: float | None = None
    end_time: float | None = None
    failure_reason: str | None = None
    exit_message: str | None = None
    pid: int | None = None
    log_stream: str | None = None
    model_artifacts: str | None = None
    stop_requested: bool = False
    transitions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def kind(self) -> JobKind:
        return KINDS[self.kind_key]

    @property
    def arn(self) -> str:
        return f"arn:aws:sagemaker:{self.region}:{ACCOUNT_ID}:{self.kind.arn_type}/{self.name.lower()}"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATES

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, payload: dict[str, Any]) -> JobRecord:
        return cls(**payload)

    def set_secondary_status(self, status: str, message: str) -> None:
        """Record a training phase the way ``SecondaryStatusTransitions`` reports it."""
        now = time.time()
        if self.transitions and "EndTime" not in self.transitions[-1]:
            self.transitions[-1]["EndTime"] = now
        self.transitions.append({"Status": status, "StartTime": now, "StatusMessage": message})
        self.secondary_status = status
        self.last_modified_time = now

    def finish(self, status: str, reason: str | None = None) -> None:
        now = time.time()
        self.status = status
        self.end_time = now
        self.last_modified_time = now
        if reason:
            self.failure_reason = reason
        if self.transitions and "EndTime" not in self.transitions[-1]:
            self.transitions[-1]["EndTime"] = now

    def billable_seconds(self) -> int | None:
        if self.start_time is None or self.end_time is None:
            return None
        return max(1, round(self.end_time - self.start_time))

    def describe(self) -> dict[str, Any]:
        """The Describe*Job response: the request echoed back plus the job's state."""
        kind = self.kind
        response = dict(self.request)
        response.update(
            {
                kind.arn_field: self.arn,
                kind.status_field: self.status,
                "CreationTime": self.creation_time,
                "LastModifiedTime": self.last_modified_time,
            }
        )
        if self.start_time is not None:
            response[kind.start_field] = self.start_time
        if self.end_time is not None:
            response[kind.end_field] = self.end_time
        if self.failure_reason:
            response["FailureReason"] = self.failure_reason
        if self.exit_message:
            response["ExitMessage"] = self.exit_message
        if kind is TRAINING:
            response["SecondaryStatus"] = self.secondary_status
            response["SecondaryStatusTransitions"] = self.transitions
            response["ModelArtifacts"] = {"S3ModelArtifacts": self.model_artifacts or ""}
            billable = self.billable_seconds()
            if billable is not None:
                response["TrainingTimeInSeconds"] = billable
                response["BillableTimeInSeconds"] = billable
        return response

    def summary(self) -> dict[str, Any]:
        """One entry of a List*Jobs response."""
        kind = self.kind
        summary: dict[str, Any] = {
            kind.name_field: self.name,
            kind.arn_field: self.arn,
            kind.status_field: self.status,
            "CreationTime": self.creation_time,
            "LastModifiedTime": self.last_modified_time,
        }
        if self.end_time is not None:
            summary[kind.end_field] = self.end_time
        if kind is TRAINING:
            summary["SecondaryStatus"] = self.secondary_status
        elif self.failure_reason:
            summary["FailureReason"] = self.failure_reason
        return summary
