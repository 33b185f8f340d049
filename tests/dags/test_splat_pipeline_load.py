"""Six submissions at once through the REST API: all complete, nothing lost, nothing mixed up.

Each run is a real ``train_and_compress`` on the embedded runtime (tiny training settings), from
its own copy of one small SfM output, so a run that read or wrote another's objects would show.
Training concurrency is read from the job runner's records (a job holds a GPU from its creation
until it ends) and must stay within the Airflow pool that stands for the GPU quota. Wall time and
peak memory are logged (``pytest -s`` or ``--log-cli-level=INFO`` shows them).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest
from airflow_server import DAG_ID, AirflowServer, airflow_server, leaked_secrets
from pipeline_support import UPLOADS, WORK, html_of, mail_to, s3_of
from sample_sfm import make_sample_sfm_output

from splatflow.local.sagemaker.job_records import TRAINING, JobRecord
from splatflow.pipeline import ids
from splatflow.pipeline.settings import PipelineSettings
from splatflow.pipeline.submission import run_prefix

# Six runs, three times the GPU pool: a few minutes alone on two cores, six (setup 363 s) while the
# suite's other end-to-end files (the Compose stack, the image builds) share them, 2026-12-08.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]

log = logging.getLogger(__name__)

RUNS = 6
LOAD_TIMEOUT_SECONDS = 1380
"""Inside the module's 1500 s limit, which also covers starting the server and making the SfM output."""


def _address(index: int) -> str:
    return f"load.{index:02d}@example.com"


@dataclass(frozen=True)
class MemoryPeak:
    total_mib: float
    server_mib: float
    """``airflow standalone`` and everything it started (API server, scheduler, task processes…)."""
    runtime_mib: float
    """This process (moto, the job runner, the SMTP sink) and the stage jobs it started."""
    processes: int


class MemorySampler:
    """Sums resident memory over the whole process tree once a second, keeping the peaks.

    Shared pages count once per process, so the sum is an upper bound of the real footprint.
    """

    def __init__(self, server: AirflowServer, interval: float = 1.0) -> None:
        self.server = server
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample_until_stopped, name="memory-sampler", daemon=True)
        self.peak = MemoryPeak(0.0, 0.0, 0.0, 0)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample_until_stopped(self) -> None:
        while not self._stop.wait(self.interval):
            me = psutil.Process()
            everything = {me.pid: me, **{child.pid: child for child in me.children(recursive=True)}}
            server_pids = {process.pid for process in self.server.process_tree()}
            server = runtime = 0
            for pid, process in everything.items():
                try:
                    rss = process.memory_info().rss
                except psutil.NoSuchProcess:
                    continue
                if pid in server_pids:
                    server += rss
                else:
                    runtime += rss
            peak, mib = self.peak, 1024 * 1024
            self.peak = MemoryPeak(
                total_mib=max(peak.total_mib, (server + runtime) / mib),
                server_mib=max(peak.server_mib, server / mib),
                runtime_mib=max(peak.runtime_mib, runtime / mib),
                processes=max(peak.processes, len(everything)),
            )


@dataclass(frozen=True)
class LoadOutcome:
    inputs: dict[str, str]
    """run id -> the SfM output that run was given."""
    addresses: dict[str, str]
    states: dict[str, str]
    wall_seconds: float
    memory: MemoryPeak


@pytest.fixture(scope="module")
def sfm_output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One small SfM output (the bundled sample at 480 px), made once by the SfM stage itself."""
    return make_sample_sfm_output(tmp_path_factory.mktemp("sfm_ml"))


LOAD_SETTINGS = {
    "SPLATFLOW_CHECK_INTERVAL_SECONDS": "10",
    "SPLATFLOW_TRAIN_HYPERPARAMETERS": json.dumps(
        {"preset": "preview", "max_steps": "1000000", "max_minutes": "0.2", "max_width": "96", "eval_every": "1000000"}
    ),
}
"""Status checks every 10 s instead of the other tests' 1 s (AWS default: 30 s). Under this load
the scheduler can take seconds to record that a stage task deferred; at 1 s a tiny job's trigger
sometimes fired first, and Airflow 3.3 then failed the task ("finished with state success, but
the task instance's state attribute is queued"), twice in a row for 2 of 20 runs in one suite run.

Twelve seconds of training per job on any machine (the wall-clock budget ends it). With the other
tests' 40 steps a job took 3 to 5 s, while the loaded scheduler started one run's training task
about every 6 s: in one suite run no two jobs overlapped, and the pool was never put to the test."""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowServer]:
    with airflow_server(tmp_path_factory.mktemp("load"), LOAD_SETTINGS) as started:
        started.wait_until_dag_is_active(started.token())
        yield started


def _upload_copy(server: AirflowServer, folder: Path, prefix: str) -> str:
    s3 = s3_of(server.runtime)
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            s3.put_object(Bucket=UPLOADS, Key=f"{prefix}/{path.relative_to(folder).as_posix()}", Body=path.read_bytes())
    return f"s3://{UPLOADS}/{prefix}/"


@pytest.fixture(scope="module")
def load(server: AirflowServer, sfm_output: Path) -> LoadOutcome:
    """Trigger every submission back to back with one token, then wait for all of them."""
    sources = [_upload_copy(server, sfm_output, f"load/flight-{index:02d}/sfm") for index in range(RUNS)]
    token = server.token()
    inputs: dict[str, str] = {}
    addresses: dict[str, str] = {}
    with MemorySampler(server) as sampler:
        started = time.monotonic()
        for index, source in enumerate(sources):
            conf = {"steps": "train_and_compress", "sfm_output_url": source, "email": _address(index)}
            run_id = server.trigger(conf, token)
            inputs[run_id], addresses[run_id] = source, _address(index)
        states = server.wait_for_runs(list(inputs), LOAD_TIMEOUT_SECONDS)
        wall = time.monotonic() - started
    outcome = LoadOutcome(inputs, addresses, states, wall, sampler.peak)
    memory = outcome.memory
    log.info(
        "load: %d train_and_compress runs through the REST API in %.0f s wall on %d CPUs (load average %s); "
        "peak RSS %.0f MiB (Airflow %.0f MiB, runtime and jobs %.0f MiB, %d processes)",
        RUNS,
        wall,
        os.cpu_count() or 0,
        " ".join(f"{value:.1f}" for value in os.getloadavg()),
        memory.total_mib,
        memory.server_mib,
        memory.runtime_mib,
        memory.processes,
    )
    return outcome


def _manifest(server: AirflowServer, run_id: str) -> dict[str, Any]:
    body = s3_of(server.runtime).get_object(Bucket=WORK, Key=run_prefix(WORK, run_id).key + "manifest.json")["Body"]
    manifest: dict[str, Any] = json.loads(body.read())
    return manifest


def _training_jobs(server: AirflowServer) -> list[JobRecord]:
    assert server.runtime.runner is not None
    return list(server.runtime.runner.executor.store.all(TRAINING))


def test_every_submission_completes_with_one_result_email(server: AirflowServer, load: LoadOutcome) -> None:
    assert len(load.states) == RUNS
    assert load.states == dict.fromkeys(load.states, "success")
    listed = server.api(f"/dags/{DAG_ID}/dagRuns?limit=100")["dag_runs"]
    assert {run["dag_run_id"] for run in listed} == set(load.states), "a run was lost or one appeared from nowhere"
    for address in load.addresses.values():
        assert [m["Subject"] for m in mail_to(server.runtime, address)] == ["Your 3D splat of sfm is ready"]


def test_each_run_reads_its_own_input_and_writes_only_under_its_own_prefix(
    server: AirflowServer, load: LoadOutcome
) -> None:
    jobs = {record.name: record for record in _training_jobs(server)}
    prefixes = {run_id: run_prefix(WORK, run_id).uri for run_id in load.states}
    assert len(set(prefixes.values())) == RUNS
    for run_id, own_prefix in prefixes.items():
        manifest = _manifest(server, run_id)
        assert manifest["run_id"] == run_id and manifest["status"] == "succeeded"
        assert manifest["submission"]["sfm_output_url"] == load.inputs[run_id]
        assert manifest["submission"]["email"] == load.addresses[run_id]
        assert all(uri.startswith(own_prefix) for uri in manifest["outputs"].values()), manifest["outputs"]
        request = jobs[manifest["stages"]["train"]["job_name"]].request
        (channel,) = request["InputDataConfig"]
        assert channel["DataSource"]["S3DataSource"]["S3Uri"] == load.inputs[run_id]
        assert request["OutputDataConfig"]["S3OutputPath"].startswith(own_prefix)
        assert request["CheckpointConfig"]["S3Uri"].startswith(own_prefix)
        (message,) = mail_to(server.runtime, load.addresses[run_id])
        html = html_of(message)
        others = [prefix for other, prefix in prefixes.items() if other != run_id]
        assert own_prefix.removeprefix(f"s3://{WORK}/") in html
        assert not any(prefix.removeprefix(f"s3://{WORK}/") in html for prefix in others)


def _most_at_once(intervals: list[tuple[float, float]]) -> int:
    """The largest number of intervals open at one instant (an end before a start at the same time)."""
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    most = current = 0
    for _, change in events:
        current += change
        most = max(most, current)
    return most


def test_training_jobs_at_once_never_exceed_the_gpu_pool(server: AirflowServer, load: LoadOutcome) -> None:
    pool = server.api(f"/pools/{PipelineSettings.from_environment().gpu_pool}")
    jobs = _training_jobs(server)
    assert len(jobs) >= RUNS and all(job.end_time is not None for job in jobs)
    # A job holds its GPU from creation (SageMaker starts the instance) until it ends.
    intervals = [(job.creation_time, job.end_time or 0.0) for job in jobs]
    most = _most_at_once(intervals)
    log.info("load: at most %d training jobs at once; GPU pool %s", most, pool)
    assert most <= pool["slots"], f"{most} training jobs ran at once; the pool allows {pool['slots']}"
    assert most == pool["slots"], "the runs never filled the pool, so this load proved nothing about it"


def test_task_logs_after_the_load_hold_no_credentials_or_presigned_urls(
    server: AirflowServer, load: LoadOutcome
) -> None:
    some_run = next(iter(load.states))
    assert "X-Amz-Signature" in html_of(mail_to(server.runtime, load.addresses[some_run])[0])
    train_log = "".join(
        path.read_text() for path in server.task_log_files() if f"task_id={ids.TRAIN}/" in path.as_posix()
    )
    assert train_log.count("train: finished") >= RUNS, "the training jobs' logs are not in the task logs"

    assert leaked_secrets(server) == {}
