"""Scripted SageMaker API faults, so tests can prove the clients retry throttling and 5xx answers.

A busy AWS account gets ``ThrottlingException`` (HTTP 400) and, now and then, ``InternalFailure``
(500) or ``ServiceUnavailable`` (503); botocore's retry modes treat all three as retryable and
call again after a backoff. The runner itself never has a reason to give them, so a test
scripts them: per operation, the next answers to give before the real handler runs. Nothing
else changes: a call the script lets through, or any call once the script is used up, is
answered by the service as always. Every fault given is recorded with the headers botocore
sends about its retries, so a test can see which client received it and how it was retrying.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.message import Message

from splatflow.local.sagemaker.errors import SageMakerApiError, ServiceUnavailableError, ThrottlingError

log = logging.getLogger(__name__)

FAULTS: dict[str, type[SageMakerApiError]] = {
    ThrottlingError.code: ThrottlingError,
    SageMakerApiError.code: SageMakerApiError,
    ServiceUnavailableError.code: ServiceUnavailableError,
}
"""The error codes a script may give, each answered with the HTTP status AWS uses for it."""

MESSAGES = {
    ThrottlingError.code: "Rate exceeded",
    SageMakerApiError.code: "We encountered an internal error. Please try again.",
    ServiceUnavailableError.code: "The service is unavailable. Please try again later.",
}


@dataclass(frozen=True)
class AnsweredFault:
    """One call answered with an injected fault, as the client described itself."""

    operation: str
    code: str
    user_agent: str
    """botocore names its retry mode here (``cfg/retry-mode#standard``); aiobotocore names itself."""
    sdk_request: str
    """botocore's ``amz-sdk-request`` header: ``attempt=2; max=5`` on a second attempt of five."""


class FaultPlan:
    """The scripted answers still to give, consumed in order, safe to share between request threads."""

    def __init__(self, script: Mapping[str, Sequence[str | None]]) -> None:
        unknown = sorted({code for answers in script.values() for code in answers if code and code not in FAULTS})
        if unknown:
            raise ValueError(f"unknown injected API faults {unknown}; known: {sorted(FAULTS)}")
        self._pending = {operation: deque(answers) for operation, answers in script.items()}
        self._lock = threading.Lock()
        self.answered: list[AnsweredFault] = []

    def next_fault(self, operation: str, headers: Message) -> SageMakerApiError | None:
        """The error to answer this call with, or None to let the service answer it."""
        with self._lock:
            pending = self._pending.get(operation)
            code = pending.popleft() if pending else None
            if code is None:
                return None
            fault = AnsweredFault(
                operation=operation,
                code=code,
                user_agent=headers.get("User-Agent", ""),
                sdk_request=headers.get("amz-sdk-request", ""),
            )
            self.answered.append(fault)
        log.info("%s answered with an injected %s (%s)", operation, code, fault.sdk_request or "no retry header")
        return FAULTS[code](MESSAGES[code])
