"""Record every AWS call a pipeline run makes, and whose identity makes it.

On AWS two identities act for a run: Airflow's ``aws_default`` connection (the tasks, the sensor
and the deferred operators' triggers) and the SageMaker job role (SageMaker moving a job's data
and writing its log). Locally the job runner plays SageMaker: its own S3 and Logs clients make
the calls SageMaker would make with the job role. So a call made through one of the runner's
clients is the job role's, and every other call made while the DAGs run is Airflow's. (The
client, not the thread or the stack, tells them apart: boto3's transfers run in pool threads.)

The recorder wraps botocore's ``BaseClient._make_api_call`` and aiobotocore's async twin (the
provider's triggers poll SageMaker with aiobotocore), plus ``generate_presigned_url``: a
presigned link is a ``GetObject`` the recipient makes later with Airflow's credentials.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import pytest
from aiobotocore.client import AioBaseClient
from botocore import signers
from botocore.client import BaseClient
from botocore.exceptions import ClientError

Identity = Literal["airflow", "job"]


@dataclass(frozen=True)
class RecordedCall:
    identity: Identity
    service: str
    """The IAM service prefix (botocore's signing name): ``s3``, ``logs``, ``sagemaker``…"""
    operation: str
    region: str
    params: dict[str, Any]
    response: dict[str, Any] = field(default_factory=dict)
    """The parsed response, or the error response when the call failed (both carry headers)."""
    presigned: bool = False
    asynchronous: bool = False
    """Made through aiobotocore (the deferred operators' triggers)."""

    def __str__(self) -> str:
        kind = "presigned " if self.presigned else ""
        return f"{self.identity}: {kind}{self.service}.{self.operation}"


class CallRecorder:
    """Thread-safe list of the calls made while it is installed."""

    def __init__(self, job_role_clients: Collection[Any]) -> None:
        self.calls: list[RecordedCall] = []
        self._job_role_clients = {id(client) for client in job_role_clients}
        self._lock = threading.Lock()

    def add(self, client: Any, operation: str, params: dict[str, Any], response: dict[str, Any], **extra: Any) -> None:
        call = RecordedCall(
            identity="job" if id(client) in self._job_role_clients else "airflow",
            service=client.meta.service_model.signing_name,
            operation=operation,
            region=client.meta.region_name,
            params=dict(params),
            response=response,
            **extra,
        )
        with self._lock:
            self.calls.append(call)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        sync_call = BaseClient._make_api_call
        async_call = AioBaseClient._make_api_call
        presign = signers.generate_presigned_url
        recorder = self

        def recorded_sync(client: Any, operation: str, params: dict[str, Any]) -> Any:
            try:
                response = sync_call(client, operation, params)
            except ClientError as error:
                recorder.add(client, operation, params, dict(error.response))
                raise
            recorder.add(client, operation, params, response)
            return response

        async def recorded_async(client: Any, operation: str, params: dict[str, Any]) -> Any:
            try:
                response = await async_call(client, operation, params)
            except ClientError as error:
                recorder.add(client, operation, params, dict(error.response), asynchronous=True)
                raise
            recorder.add(client, operation, params, response, asynchronous=True)
            return response

        def recorded_presign(client: Any, ClientMethod: str, Params: Any = None, **kwargs: Any) -> Any:  # noqa: N803 - botocore's names
            url = presign(client, ClientMethod, Params, **kwargs)
            operation = client.meta.method_to_api_mapping[ClientMethod]
            recorder.add(client, operation, Params or {}, {}, presigned=True)
            return url

        monkeypatch.setattr(BaseClient, "_make_api_call", recorded_sync)
        monkeypatch.setattr(AioBaseClient, "_make_api_call", recorded_async)
        monkeypatch.setattr(signers, "generate_presigned_url", recorded_presign)


@contextmanager
def recording_aws_calls(job_role_clients: Collection[Any]) -> Iterator[list[RecordedCall]]:
    """The calls made inside the block (growing as they happen); unpatched again on exit."""
    recorder = CallRecorder(job_role_clients)
    with pytest.MonkeyPatch.context() as monkeypatch:
        recorder.install(monkeypatch)
        yield recorder.calls
