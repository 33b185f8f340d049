"""A job's log lines into CloudWatch Logs, under the group and stream names SageMaker uses.

The Airflow operators' ``print_log`` reads ``/aws/sagemaker/TrainingJobs`` streams named
``<job>/algo-1-<epoch>``; writing the same names makes the container's output show up in the
Airflow task log with no change to the operators.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

MAX_BATCH_EVENTS = 500
FLUSH_SECONDS = 0.5


def stream_name(job_name: str, started: float) -> str:
    return f"{job_name}/algo-1-{int(started)}"


class LogStreamWriter:
    """Buffers lines and ships them in batches; thread-safe (the reader adds, the monitor flushes)."""

    def __init__(self, logs: Any, group: str, stream: str) -> None:
        self._logs = logs
        self.group = group
        self.stream = stream
        self._buffer: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._last_flush = time.monotonic()
        with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
            logs.create_log_group(logGroupName=group)
        logs.create_log_stream(logGroupName=group, logStreamName=stream)

    def add(self, line: str) -> None:
        event = {"timestamp": int(time.time() * 1000), "message": line.rstrip("\n") or " "}
        with self._lock:
            self._buffer.append(event)
            due = time.monotonic() - self._last_flush >= FLUSH_SECONDS
        if due or len(self._buffer) >= MAX_BATCH_EVENTS:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            batch, self._buffer = self._buffer, []
            self._last_flush = time.monotonic()
            for start in range(0, len(batch), MAX_BATCH_EVENTS):
                self._logs.put_log_events(
                    logGroupName=self.group,
                    logStreamName=self.stream,
                    logEvents=batch[start : start + MAX_BATCH_EVENTS],
                )
