"""A runner that dies mid-job: on restart the job is Failed with a reason, never left InProgress."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from runner_support import BUCKET, processing_request, runner_settings, sagemaker_client, unique, wait_for

from splatflow.local.runtime import EmbeddedRuntime
from splatflow.local.sagemaker.job_records import PROCESSING
from splatflow.local.sagemaker.runner import JobRunner
from splatflow.local.sagemaker.service import RUNNER_RESTART_REASON


def _start_runner(state: Path, aws_url: str) -> tuple[subprocess.Popen[bytes], str]:
    url_file = state / f"url-{time.monotonic_ns()}"
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("runner_process.py")), str(state), aws_url, str(url_file)],
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while not url_file.exists():
        assert process.poll() is None, "the runner process exited early"
        assert time.monotonic() < deadline, "the runner did not start"
        time.sleep(0.05)
    return process, url_file.read_text()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_job_lost_with_the_runner_is_failed_after_restart(runtime: EmbeddedRuntime, tmp_path: Path) -> None:
    runner, url = _start_runner(tmp_path, runtime.aws_url)
    name = unique("lost")
    client: Any = sagemaker_client(url)
    request = processing_request(name, ["--mode", "sleep", "--seconds", "120"], None, f"s3://{BUCKET}/{name}/o")
    client.create_processing_job(**request)
    deadline = time.monotonic() + 20
    while (job_pid := _job_pid(tmp_path, name)) is None:
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.05)

    os.killpg(runner.pid, signal.SIGKILL)
    runner.wait()
    assert _alive(job_pid), "the job process should outlive its runner until the restart cleans up"

    restarted, url = _start_runner(tmp_path, runtime.aws_url)
    try:
        job = wait_for(lambda: sagemaker_client(url).describe_processing_job(ProcessingJobName=name), timeout=10)
        assert job["ProcessingJobStatus"] == "Failed"
        assert job["FailureReason"] == RUNNER_RESTART_REASON
        deadline = time.monotonic() + 10
        while _alive(job_pid):
            assert time.monotonic() < deadline, "the orphaned job process was not ended"
            time.sleep(0.05)
    finally:
        os.killpg(restarted.pid, signal.SIGKILL)
        restarted.wait()


def _job_pid(state: Path, name: str) -> int | None:
    record = state / "jobs" / "processing" / f"{name}.json"
    if not record.exists():
        return None
    pid = json.loads(record.read_text())["pid"]
    return int(pid) if pid else None


def test_a_runner_that_is_stopped_stops_its_running_jobs_first(tmp_path: Path, runtime: EmbeddedRuntime) -> None:
    # Ctrl-C on `make up`: no stage process may outlive the runner, and no job stays InProgress.
    runner = JobRunner(replace(runner_settings(tmp_path / "runner"), aws_endpoint=runtime.aws_url))
    runner.start()
    client = sagemaker_client(runner.url)
    name = unique("outlived")
    client.create_processing_job(**processing_request(name, ["--mode", "sleep", "--seconds", "120"], None, "s3://x/y"))
    deadline = time.monotonic() + 30
    while (pid := runner.executor.store.get(PROCESSING, name).pid) is None:  # type: ignore[union-attr]
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.05)

    started = time.monotonic()
    runner.stop()

    assert time.monotonic() - started < 15
    assert not _alive(pid), "the stage process outlived the runner"
    record = runner.executor.store.get(PROCESSING, name)
    assert record is not None and record.status == "Stopped"
