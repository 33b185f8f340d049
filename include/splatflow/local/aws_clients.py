"""boto3 clients for the embedded runtime's own use (the runner's transfers and logs, tests)."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

LOCAL_ACCESS_KEY = "testing"
"""moto accepts any credentials; fixed ones keep the generated Airflow connection stable."""


def aws_client(service: str, endpoint_url: str | None, region: str) -> Any:
    """A client for ``service`` at ``endpoint_url`` (None: real AWS with the ambient credentials)."""
    config = Config(retries={"max_attempts": 5, "mode": "standard"})
    if endpoint_url is None:
        return boto3.client(service, region_name=region, config=config)
    return boto3.client(
        service,
        region_name=region,
        endpoint_url=endpoint_url,
        aws_access_key_id=LOCAL_ACCESS_KEY,
        aws_secret_access_key=LOCAL_ACCESS_KEY,
        config=config,
    )
