"""The AWS clients the pipeline's tasks and operators build from their Airflow connections."""

from __future__ import annotations

from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook
from botocore.config import Config

from splatflow.pipeline.link_signing import LinkSigner

AWS_CONN_ID = "aws_default"

SIGV4 = Config(signature_version="s3v4")
"""SigV4 signing: presigned links then carry X-Amz-Expires and may live up to 7 days."""


def s3_client() -> Any:
    # Merged into the connection's own config, so its retry settings (``config_kwargs``) still apply.
    hook = S3Hook(aws_conn_id=AWS_CONN_ID)
    return hook.get_client_type(config=hook.config.merge(SIGV4))


def link_signer(conn_id: str) -> LinkSigner:
    """An S3 client for presigning with the connection ``conn_id``, and the credentials it signs with.

    Client and credentials come from one session, so the lifetime read from the credentials is the
    one the links get (a second session could assume the role again, with another expiry).
    """
    hook = S3Hook(aws_conn_id=conn_id)
    session = hook.get_session()
    client = session.client(
        "s3",
        endpoint_url=hook.conn_config.get_service_endpoint_url(service_name="s3"),
        config=hook.config.merge(SIGV4),
        verify=hook.verify,
    )
    return LinkSigner(client, session.get_credentials())


def sagemaker_client() -> Any:
    return SageMakerHook(aws_conn_id=AWS_CONN_ID).get_conn()
