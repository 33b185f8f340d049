"""SageMaker API errors with the codes AWS returns, so clients branch on the same codes.

The Airflow provider relies on these: it treats a ``ValidationException`` from a Describe call
as "no such job" when it picks a unique job name, exactly as AWS answers.
"""

from __future__ import annotations


class SageMakerApiError(Exception):
    """An error the API answers with ``{"__type": code, "message": …}``."""

    code = "InternalFailure"
    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ValidationError(SageMakerApiError):
    code = "ValidationException"
    status = 400


class ResourceInUseError(SageMakerApiError):
    code = "ResourceInUse"
    status = 400


class ThrottlingError(SageMakerApiError):
    code = "ThrottlingException"
    status = 400


class ServiceUnavailableError(SageMakerApiError):
    code = "ServiceUnavailable"
    status = 503


class UnknownOperationError(SageMakerApiError):
    code = "UnknownOperationException"
    status = 400
