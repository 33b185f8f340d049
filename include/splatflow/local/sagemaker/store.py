"""Job records on disk, one JSON file per job, so a restarted runner still knows every job."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

from splatflow.local.sagemaker.job_records import JobKind, JobRecord


class JobStore:
    """A thread-safe map of job records persisted under ``root/<kind>/<name>.json``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.RLock()
        self._records: dict[tuple[str, str], JobRecord] = {}
        for path in sorted(root.glob("*/*.json")):
            record = JobRecord.from_json(json.loads(path.read_text(encoding="utf-8")))
            self._records[(record.kind_key, record.name)] = record

    @property
    def lock(self) -> threading.RLock:
        """Held while a record is read-modified-written, so Describe never sees half an update."""
        return self._lock

    def get(self, kind: JobKind, name: str) -> JobRecord | None:
        with self._lock:
            return self._records.get((kind.key, name))

    def add(self, record: JobRecord) -> bool:
        """Store a new record; False when a job of that kind and name already exists."""
        with self._lock:
            key = (record.kind_key, record.name)
            if key in self._records:
                return False
            self._records[key] = record
            self.save(record)
            return True

    def save(self, record: JobRecord) -> None:
        with self._lock:
            path = self.root / record.kind_key / f"{record.name}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".json.tmp")
            tmp.write_text(json.dumps(record.to_json(), indent=1), encoding="utf-8")
            tmp.replace(path)

    def all(self, kind: JobKind | None = None) -> Iterator[JobRecord]:
        with self._lock:
            records = list(self._records.values())
        return (r for r in records if kind is None or r.kind_key == kind.key)
