"""A job's output reaches CloudWatch Logs under SageMaker's group and stream names."""

from __future__ import annotations

from typing import Any

from runner_support import BUCKET, processing_request, training_request, unique, wait_for


def _messages(logs: Any, group: str, job_name: str) -> list[str]:
    streams = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=f"{job_name}/")["logStreams"]
    assert len(streams) == 1 and streams[0]["logStreamName"].startswith(f"{job_name}/algo-1-")
    events = logs.get_log_events(logGroupName=group, logStreamName=streams[0]["logStreamName"], startFromHead=True)
    return [event["message"] for event in events["events"]]


def test_processing_job_output_is_readable_with_the_logs_client(sagemaker: Any, s3: Any, logs: Any) -> None:
    name = unique("logs")
    s3.put_object(Bucket=BUCKET, Key=f"{name}/in/a.txt", Body=b"a")
    request = processing_request(name, ["--mode", "copy"], f"s3://{BUCKET}/{name}/in/", f"s3://{BUCKET}/{name}/o")
    sagemaker.create_processing_job(**request)
    assert wait_for(lambda: sagemaker.describe_processing_job(ProcessingJobName=name))["ProcessingJobStatus"] == (
        "Completed"
    )

    messages = _messages(logs, "/aws/sagemaker/ProcessingJobs", name)

    assert "scripted stage: mode=copy greeting=hello" in messages
    assert "copied 1 files" in messages
    assert any("scripted: finished in" in m for m in messages)


def test_failed_training_job_log_carries_the_reason(sagemaker: Any, s3: Any, logs: Any) -> None:
    name = unique("logfail")
    s3.put_object(Bucket=BUCKET, Key=f"{name}/sfm/x", Body=b"x")
    request = training_request(
        name, {"mode": "fail", "reason": "no CUDA device"}, f"s3://{BUCKET}/{name}/sfm", f"s3://{BUCKET}/{name}/m"
    )
    sagemaker.create_training_job(**request)
    job = wait_for(lambda: sagemaker.describe_training_job(TrainingJobName=name))
    assert job["TrainingJobStatus"] == "Failed"

    messages = _messages(logs, "/aws/sagemaker/TrainingJobs", name)

    assert any(m.endswith("scripted failed: no CUDA device") for m in messages)
