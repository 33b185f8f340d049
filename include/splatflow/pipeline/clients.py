"""The AWS clients the pipeline's tasks and operators build from the ``aws_default`` connection."""

from __future__ import annotations

from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook
from botocore.config import Config

AWS_CONN_ID = "aws_default"


def s3_client(aws_conn_id: str = AWS_CONN_ID) -> Any:
    """S3 with SigV4 signing: presigned links then carry X-Amz-Expires and may live up to 7 days."""
    # Merged into the connection's own config, so its retry settings (``config_kwargs``) still apply.
    hook = S3Hook(aws_conn_id=aws_conn_id)
    return hook.get_client_type(config=hook.config.merge(Config(signature_version="s3v4")))


def sagemaker_client() -> Any:
    return SageMakerHook(aws_conn_id=AWS_CONN_ID).get_conn()
