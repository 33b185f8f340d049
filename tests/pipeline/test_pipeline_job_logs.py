"""A job's CloudWatch log, read in order from every stream SageMaker gave it, for the task log."""

from __future__ import annotations

import time

import boto3
from moto import mock_aws

from splatflow.pipeline.job_logs import job_log_lines

GROUP = "/aws/sagemaker/TrainingJobs"
NOW_MS = int(time.time() * 1000)


@mock_aws
def test_job_log_lines_reads_every_stream_of_the_job_in_order() -> None:
    logs = boto3.client("logs", region_name="us-east-1")
    logs.create_log_group(logGroupName=GROUP)
    for stream, lines in (("job-a/algo-1-100", ["one", "two"]), ("job-a/algo-2-100", ["three"])):
        logs.create_log_stream(logGroupName=GROUP, logStreamName=stream)
        events = [{"timestamp": NOW_MS + i, "message": line} for i, line in enumerate(lines)]
        logs.put_log_events(logGroupName=GROUP, logStreamName=stream, logEvents=events)
    logs.create_log_stream(logGroupName=GROUP, logStreamName="job-ab/algo-1-100")
    logs.put_log_events(
        logGroupName=GROUP, logStreamName="job-ab/algo-1-100", logEvents=[{"timestamp": NOW_MS, "message": "other"}]
    )

    assert list(job_log_lines(logs, GROUP, "job-a")) == ["one", "two", "three"]
    assert list(job_log_lines(logs, GROUP, "job-a", limit=2)) == ["one", "two"]
    assert list(job_log_lines(logs, GROUP, "job-b")) == []
