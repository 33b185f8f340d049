"""Runs jobs: workspace, inputs, the container process, logs, outputs, and the final status.

Each job gets a thread that waits for a free slot, then drives the job through the phases
SageMaker reports (Starting, Downloading, Training, Uploading, then Completed, Failed or
Stopped). Outputs are uploaded only after a successful exit, so a failed job publishes nothing.
"""

from __future__ import annotations

import logging
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import IO, Any

from splatflow.encryption import encryption_args
from splatflow.local.config import RunnerSettings
from splatflow.local.sagemaker import s3io
from splatflow.local.sagemaker.backends import BackendError, Command, image_repository_name, subprocess_command
from splatflow.local.sagemaker.checkpoint_sync import CheckpointSyncer, restore_checkpoints
from splatflow.local.sagemaker.cloudwatch import LogStreamWriter, stream_name
from splatflow.local.sagemaker.container import (
    container_command,
    host_has_nvidia_gpus,
    remove_container,
    require_image,
)
from splatflow.local.sagemaker.job_plans import JobPlan, model_artifacts_uri, plan_for, prepare_workspace
from splatflow.local.sagemaker.job_records import TRAINING, JobRecord
from splatflow.local.sagemaker.stopping import stop_job_process
from splatflow.local.sagemaker.store import JobStore
from splatflow.local.sagemaker.workspace import ExitMessageError, Workspace, WorkspacePathError

log = logging.getLogger(__name__)


PROCESSING_FAILURE_REASON = "AlgorithmError: See job logs for more information"
"""A failed Processing job's ``FailureReason``; the container's own words are its ``ExitMessage``."""

SHUTDOWN_GRACE_SECONDS = 5.0
"""How long a job gets after its stop signal when the whole runtime is stopping."""


class JobExecutor:
    def __init__(self, settings: RunnerSettings, store: JobStore, s3: Any, logs: Any) -> None:
        self.settings = settings
        self.store = store
        self.s3 = s3
        self.logs = logs
        self._slots = threading.Semaphore(settings.max_parallel_jobs)
        self.use_docker = settings.backend == "docker"
        self.host_gpus = self.use_docker and host_has_nvidia_gpus()
        self._injected_failures = dict(settings.injected_job_failures)
        self._injected_lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._shutting_down = False

    def submit(self, record: JobRecord) -> None:
        thread = threading.Thread(target=self._run, args=(record,), name=f"job-{record.name}", daemon=True)
        with self.store.lock:
            self._threads = [alive for alive in self._threads if alive.is_alive()] + [thread]
        thread.start()

    def stop_all(self, wait_seconds: float) -> None:
        """Stop every job still running, as a Stop call would, and wait for them to end.

        A runtime that stops (Ctrl-C on ``make up``) leaves no stage process or container
        behind and no job InProgress. Jobs get ``SHUTDOWN_GRACE_SECONDS`` after their stop
        signal instead of SageMaker's two minutes, so the whole stop stays within seconds.
        """
        with self.store.lock:
            self._shutting_down = True
            threads = [thread for thread in self._threads if thread.is_alive()]
            for record in self.store.all():
                if record.is_active:
                    record.stop_requested = True
        deadline = time.monotonic() + wait_seconds
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _update(self, record: JobRecord, **changes: Any) -> None:
        with self.store.lock:
            for key, value in changes.items():
                setattr(record, key, value)
            record.last_modified_time = time.time()
            self.store.save(record)

    def _phase(self, record: JobRecord, status: str, message: str) -> None:
        with self.store.lock:
            record.set_secondary_status(status, message)
            self.store.save(record)

    def _finish(self, record: JobRecord, status: str, reason: str | None = None) -> None:
        with self.store.lock:
            record.finish(status, reason)
            record.pid = None
            if status in {"Completed", "Stopped", "Failed"} and record.kind is TRAINING:
                record.set_secondary_status(status, reason or f"Training job {status.lower()}")
            self.store.save(record)
        log.info("job %s: %s%s", record.name, status, f" ({reason})" if reason else "")

    def _run(self, record: JobRecord) -> None:
        try:
            with self._slots:
                if record.stop_requested:
                    self._finish(record, "Stopped", "Stopped before it started")
                    return
                self._execute(record)
        except Exception as exc:
            log.exception("job %s: runner error", record.name)
            self._finish(record, "Failed", f"InternalServerError: the local job runner failed: {exc}")

    def _injected_failure(self, image: str) -> str | None:
        repository = image_repository_name(image)
        with self._injected_lock:
            remaining = self._injected_failures.get(repository, 0)
            if remaining <= 0:
                return None
            self._injected_failures[repository] = remaining - 1
        return "InternalServerError: an internal error occurred (injected by the runner's fault settings)"

    def _execute(self, record: JobRecord) -> None:
        workspace = Workspace.create(self.settings.workspaces_dir, record.name)
        self._update(record, start_time=time.time())
        plan = plan_for(record)
        injected = self._injected_failure(plan.image)
        if injected:
            self._finish(record, "Failed", injected)
            return
        self._phase(record, "Downloading", "Downloading input data")
        try:
            prepare_workspace(plan, workspace)
            for download in plan.downloads:
                s3io.download_prefix(self.s3, download.uri, workspace.host_path(download.container_path))
            if plan.checkpoint:
                restore_checkpoints(self.s3, plan.checkpoint[0], workspace.host_path(plan.checkpoint[1]))
            command = self._command(plan, workspace, record)
        except (s3io.TransferError, WorkspacePathError, BackendError) as exc:
            self._finish(record, "Failed", str(exc))
            return
        self._phase(record, "Training", "Running the container")
        try:
            outcome = self._run_process(record, command, workspace, plan)
        finally:
            if command.container_name:
                remove_container(command.container_name, command.environment)
        if not plan.is_training:
            try:
                self._update(record, exit_message=workspace.exit_message())
            except ExitMessageError as exc:
                self._finish(record, "Failed", f"ClientError: {exc}")
                return
        if outcome == "stopped":
            self._finish(record, "Stopped", "Stopped by request")
            return
        if outcome == "timeout":
            limit = record.request["StoppingCondition"]["MaxRuntimeInSeconds"]
            reason = f"The job exceeded its MaxRuntimeInSeconds ({limit} s) and was stopped"
            if record.kind is TRAINING:
                self._phase(record, "MaxRuntimeExceeded", reason)
                self._finish(record, "Stopped", reason)
            else:
                self._finish(record, "Failed", reason)
            return
        if outcome != 0:
            self._finish(record, "Failed", self._failure_reason(plan, workspace, outcome))
            return
        self._phase(record, "Uploading", "Uploading generated output")
        try:
            self._upload_outputs(plan, workspace)
        except (s3io.TransferError, WorkspacePathError) as exc:
            self._finish(record, "Failed", f"ClientError: output upload failed: {exc}")
            return
        if record.kind is TRAINING:
            self._update(record, model_artifacts=model_artifacts_uri(record))
        self._finish(record, "Completed")

    @staticmethod
    def _failure_reason(plan: JobPlan, workspace: Workspace, exit_code: int | str) -> str:
        """What SageMaker reports as a failed job's ``FailureReason``.

        Training: the first 1024 characters of ``/opt/ml/output/failure``. Processing: a fixed
        line whatever the container wrote; its words are the ``ExitMessage`` (AWS's own Spark
        container tests assert exactly this pair, docs/sagemaker-containers.md).
        """
        if not plan.is_training:
            return PROCESSING_FAILURE_REASON
        return workspace.failure_reason() or (
            f"AlgorithmError: the container exited with code {exit_code} without writing "
            "/opt/ml/output/failure; see the job's log"
        )

    def _command(self, plan: JobPlan, workspace: Workspace, record: JobRecord) -> Command:
        if not self.use_docker:
            return subprocess_command(plan, workspace, self.settings)
        environment = dict(os.environ)
        if self.settings.docker_host:
            environment["DOCKER_HOST"] = self.settings.docker_host
        require_image(plan.image, environment)
        command = container_command(plan, workspace, record.name, environment, gpus=self.host_gpus)
        assert command.container_name is not None
        remove_container(command.container_name, environment)
        return command

    def _upload_outputs(self, plan: JobPlan, workspace: Workspace) -> None:
        extra = encryption_args(plan.kms_key_id)
        for upload in plan.uploads:
            source = workspace.host_path(upload.container_path)
            has_files = source.is_dir() and any(p.is_file() for p in source.rglob("*"))
            if upload.if_not_empty and not has_files:
                continue
            if upload.as_tarball:
                archive = workspace.root.parent / Path(upload.uri).name
                s3io.tar_directory(source, archive)
                s3io.upload_file(self.s3, archive, upload.uri, extra)
            elif has_files:
                s3io.upload_directory(self.s3, source, upload.uri, extra)

    def _run_process(self, record: JobRecord, command: Command, workspace: Workspace, plan: JobPlan) -> int | str:
        """Run the container; its exit code, or ``"stopped"`` / ``"timeout"``."""
        started = time.time()
        writer = LogStreamWriter(self.logs, record.kind.log_group, stream_name(record.name, started))
        self._update(record, log_stream=writer.stream)
        max_runtime = record.request.get("StoppingCondition", {}).get("MaxRuntimeInSeconds")
        deadline = time.monotonic() + max_runtime if max_runtime else None
        with workspace.log_file.open("a", encoding="utf-8") as log_file:
            process = subprocess.Popen(
                command.argv,
                env=command.environment,
                cwd=workspace.root.parent,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                text=True,
                errors="replace",
                bufsize=1,
            )
            self._update(record, pid=process.pid)
            assert process.stdout is not None
            reader = threading.Thread(
                target=_pump_lines,
                args=(process.stdout, writer, log_file, record.name),
                name=f"log-{record.name}",
                daemon=True,
            )
            reader.start()
            syncer = (
                CheckpointSyncer(
                    self.s3,
                    plan.checkpoint[0],
                    workspace.host_path(plan.checkpoint[1]),
                    self.settings.checkpoint_sync_seconds,
                    encryption_args(plan.kms_key_id),
                )
                if plan.checkpoint
                else None
            )
            outcome: int | str | None = None
            while process.poll() is None:
                time.sleep(self.settings.poll_seconds)
                writer.flush()
                if syncer:
                    syncer.maybe_sync()
                if record.stop_requested:
                    outcome = "stopped"
                elif deadline is not None and time.monotonic() > deadline:
                    outcome = "timeout"
                if outcome:
                    self._terminate(process, command, plan.is_training)
                    break
            reader.join(timeout=10)
            writer.flush()
            if syncer:
                syncer.sync()
        return outcome if outcome else process.returncode

    def _terminate(self, process: subprocess.Popen[str], command: Command, is_training: bool) -> None:
        grace = self.settings.stop_grace_seconds
        stop_job_process(
            process, command, is_training, min(grace, SHUTDOWN_GRACE_SECONDS) if self._shutting_down else grace
        )


job_log = logging.getLogger("splatflow.local.jobs")
"""Each job's output, echoed by the runner so ``serve`` and ``demo`` show long jobs progressing."""


def _pump_lines(stream: IO[str], writer: LogStreamWriter, log_file: IO[str], job_name: str) -> None:
    for line in stream:
        log_file.write(line)
        log_file.flush()
        writer.add(line)
        job_log.info("%s | %s", job_name, line.rstrip())
