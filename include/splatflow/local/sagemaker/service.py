"""The SageMaker operations the runner answers, on top of the job store and the executor.

Every request is first validated against botocore's service model (see ``validation``), then
handled the way AWS handles it: unique names, ``ValidationException`` for an unknown job,
Stop only for an active job, List with filters, sorting and paging.
"""

from __future__ import annotations

import datetime
import functools
import logging
import os
import signal
from collections.abc import Callable
from typing import Any

import botocore.session

from splatflow.local.sagemaker.errors import ResourceInUseError, UnknownOperationError, ValidationError
from splatflow.local.sagemaker.executor import JobExecutor
from splatflow.local.sagemaker.job_records import KINDS, TRAINING, JobKind, JobRecord
from splatflow.local.sagemaker.store import JobStore
from splatflow.local.sagemaker.validation import validate_request

log = logging.getLogger(__name__)

RUNNER_RESTART_REASON = (
    "InternalServerError: the local job runner stopped while this job was running, and the job's "
    "process was lost; retry the task to start a new job"
)

Handler = Callable[[dict[str, Any]], dict[str, Any]]


def _timestamp(value: Any) -> float:
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    return datetime.datetime.fromisoformat(str(value)).timestamp()


class SageMakerService:
    def __init__(self, store: JobStore, executor: JobExecutor, region: str) -> None:
        self.store = store
        self.executor = executor
        self.region = region
        self.model = botocore.session.get_session().get_service_model("sagemaker")
        self.handlers: dict[str, Handler] = {}
        for kind in KINDS.values():
            self.handlers[f"Create{kind.noun}"] = functools.partial(self._create, kind)
            self.handlers[f"Describe{kind.noun}"] = functools.partial(self._describe, kind)
            self.handlers[f"Stop{kind.noun}"] = functools.partial(self._stop, kind)
            self.handlers[f"List{kind.noun}s"] = functools.partial(self._list, kind)

    def recover_after_restart(self) -> None:
        """Jobs that were running when the runner died are Failed with a reason, never left InProgress."""
        for record in self.store.all():
            if not record.is_active:
                continue
            if record.pid:
                _kill_orphan(record.pid)
            with self.store.lock:
                record.finish("Failed", RUNNER_RESTART_REASON)
                record.pid = None
                if record.kind is TRAINING:
                    record.set_secondary_status("Failed", RUNNER_RESTART_REASON)
                self.store.save(record)
            log.warning("job %s was running when the runner stopped; marked Failed", record.name)

    def call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        handler = self.handlers.get(operation)
        if handler is None:
            raise UnknownOperationError(f"The local job runner does not implement {operation}")
        validate_request(self.model.operation_model(operation), params)
        return handler(params)

    def _require(self, kind: JobKind, params: dict[str, Any]) -> JobRecord:
        name = params[kind.name_field]
        record = self.store.get(kind, name)
        if record is None:
            raise ValidationError(f"Could not find requested job with name {name}")
        return record

    def _create(self, kind: JobKind, params: dict[str, Any]) -> dict[str, Any]:
        if kind is TRAINING and "TrainingImage" not in params["AlgorithmSpecification"]:
            raise ValidationError("AlgorithmSpecification.TrainingImage is required (algorithms are not supported)")
        record = JobRecord(kind_key=kind.key, name=params[kind.name_field], region=self.region, request=params)
        if kind is TRAINING:
            record.set_secondary_status("Starting", "Starting the training job")
        if not self.store.add(record):
            raise ResourceInUseError(
                f"Job name must be unique within an AWS account and region, and a job with this name "
                f"already exists ({record.arn})"
            )
        log.info("job %s created (%s)", record.name, kind.noun)
        self.executor.submit(record)
        return {kind.arn_field: record.arn}

    def _describe(self, kind: JobKind, params: dict[str, Any]) -> dict[str, Any]:
        record = self._require(kind, params)
        with self.store.lock:
            return record.describe()

    def _stop(self, kind: JobKind, params: dict[str, Any]) -> dict[str, Any]:
        record = self._require(kind, params)
        with self.store.lock:
            if not record.is_active:
                raise ValidationError(f"The request was rejected because the {kind.noun} is in status {record.status}.")
            record.stop_requested = True
            record.status = "Stopping"
            if kind is TRAINING:
                record.set_secondary_status("Stopping", "Stopping the training job")
            self.store.save(record)
        return {}

    def _list(self, kind: JobKind, params: dict[str, Any]) -> dict[str, Any]:
        records = list(self.store.all(kind))
        if "NameContains" in params:
            needle = params["NameContains"].lower()
            records = [r for r in records if needle in r.name.lower()]
        if "StatusEquals" in params:
            records = [r for r in records if r.status == params["StatusEquals"]]
        for field, keep in (
            ("CreationTimeAfter", lambda r, t: r.creation_time > t),
            ("CreationTimeBefore", lambda r, t: r.creation_time < t),
            ("LastModifiedTimeAfter", lambda r, t: r.last_modified_time > t),
            ("LastModifiedTimeBefore", lambda r, t: r.last_modified_time < t),
        ):
            if field in params:
                bound = _timestamp(params[field])
                records = [r for r in records if keep(r, bound)]
        sort_by = params.get("SortBy", "CreationTime")
        sort_keys: dict[str, Callable[[JobRecord], Any]] = {
            "Name": lambda r: r.name,
            "CreationTime": lambda r: r.creation_time,
            "Status": lambda r: r.status,
        }
        records.sort(key=sort_keys[sort_by], reverse=params.get("SortOrder", "Descending") == "Descending")
        start = _decode_token(params.get("NextToken"))
        page_size = params.get("MaxResults", 10)
        page = records[start : start + page_size]
        with self.store.lock:
            response: dict[str, Any] = {kind.summaries_field: [r.summary() for r in page]}
        if start + page_size < len(records):
            response["NextToken"] = str(start + page_size)
        return response


def _decode_token(token: str | None) -> int:
    if token is None:
        return 0
    if not token.isdigit():
        raise ValidationError(f"Invalid pagination token {token!r}")
    return int(token)


def _kill_orphan(pid: int) -> None:
    """End the process group a dead runner left behind, so a lost job stops using the machine."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return
    log.warning("killed the orphaned process group %d of a lost job", pid)
