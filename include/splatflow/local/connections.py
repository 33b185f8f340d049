"""The Airflow connections that point the unchanged DAG at the embedded runtime.

Only connections differ between AWS and a laptop (DESIGN section 4): ``aws_default`` sends S3
and CloudWatch Logs to the moto server and SageMaker to the job runner through the
connection extra ``service_config.<service>.endpoint_url``; ``smtp_default`` points at the sink.
AWS calls are retried with backoff through the extra's ``config_kwargs``, as on AWS (README).
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from splatflow.local.aws_clients import LOCAL_ACCESS_KEY

SENDER = "splatflow@localhost"

CLIENT_RETRIES: dict[str, str | int] = {"mode": "standard", "max_attempts": 5}
"""botocore's standard retry mode for the clients the connection builds (hooks given no config
of their own, sensors, the deferred operators' aiobotocore triggers): a throttle or a 5xx is
called again after a jittered exponential backoff, up to five times (botocore's ``max_attempts``
counts retries: six attempts in all)."""


def aws_connection(aws_url: str, sagemaker_url: str, region: str) -> str:
    """``AIRFLOW_CONN_AWS_DEFAULT`` in Airflow's JSON connection form."""
    endpoints = {"s3": aws_url, "logs": aws_url, "sts": aws_url, "iam": aws_url, "sagemaker": sagemaker_url}
    return json.dumps(
        {
            "conn_type": "aws",
            "login": LOCAL_ACCESS_KEY,
            "password": LOCAL_ACCESS_KEY,
            "extra": {
                "region_name": region,
                "config_kwargs": {"retries": CLIENT_RETRIES},
                "service_config": {name: {"endpoint_url": url} for name, url in endpoints.items()},
            },
        }
    )


def smtp_connection(host: str, port: int) -> str:
    """``AIRFLOW_CONN_SMTP_DEFAULT``: plain SMTP, no TLS, no login (the sink accepts all mail)."""
    return json.dumps(
        {
            "conn_type": "smtp",
            "host": host,
            "port": port,
            "extra": {"disable_tls": True, "disable_ssl": True, "from_email": SENDER, "timeout": 10},
        }
    )


def connection_environment(
    aws_url: str, sagemaker_url: str, smtp_host: str, smtp_port: int, region: str
) -> dict[str, str]:
    return {
        "AIRFLOW_CONN_AWS_DEFAULT": aws_connection(aws_url, sagemaker_url, region),
        "AIRFLOW_CONN_SMTP_DEFAULT": smtp_connection(smtp_host, smtp_port),
        "AWS_DEFAULT_REGION": region,
    }


def write_env_file(path: Path, environment: dict[str, str]) -> None:
    """A file to ``source`` in a shell (``export NAME='value'`` lines)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"export {name}={shlex.quote(value)}" for name, value in sorted(environment.items())]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
