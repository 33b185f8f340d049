"""Copy a SageMaker job's CloudWatch log into the Airflow task log.

In deferrable mode the provider's operators wait in the triggerer and never print the
container's output; the stage operators call :func:`print_job_log` once the job is done, so the
task log, where a user looks first, holds what the stage said.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from airflow.providers.amazon.aws.hooks.logs import AwsLogsHook

MAX_LOG_LINES = 5000
"""A runaway job's log is cut here; the rest stays in CloudWatch Logs."""


def job_log_lines(logs: Any, log_group: str, job_name: str, limit: int = MAX_LOG_LINES) -> Iterator[str]:
    """The job's log lines in order, from the streams SageMaker names ``<job>/algo-<n>-<epoch>``."""
    streams = logs.describe_log_streams(logGroupName=log_group, logStreamNamePrefix=f"{job_name}/")["logStreams"]
    emitted = 0
    for stream in streams:
        request: dict[str, Any] = {
            "logGroupName": log_group,
            "logStreamName": stream["logStreamName"],
            "startFromHead": True,
        }
        while emitted < limit:
            page = logs.get_log_events(**request)
            for event in page["events"][: limit - emitted]:
                emitted += 1
                yield event["message"]
            if not page["events"] or page["nextForwardToken"] == request.get("nextToken"):
                break
            request["nextToken"] = page["nextForwardToken"]


def print_job_log(operator: Any, log_group: str, event: dict[str, Any] | None) -> None:
    """Each line of the job the trigger ``event`` names, as ``<job> | <line>`` in the task log."""
    job_name = (event or {}).get("job_name")
    if not job_name:
        return
    logs = AwsLogsHook(aws_conn_id=operator.aws_conn_id, region_name=operator.region_name).get_conn()
    for line in job_log_lines(logs, log_group, job_name):
        operator.log.info("%s | %s", job_name, line)
