"""Progress lines while one long pycolmap call runs.

Exhaustive matching or global mapping is a single blocking call that can take many minutes and
prints nothing useful once pycolmap's own logging is quieted. pycolmap releases the GIL during
those calls, so a background thread can keep writing ``step elapsed=…`` lines to prove to the
Airflow log that the job is alive.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger("splatflow.stages")

HEARTBEAT_SECONDS = 15.0


@contextmanager
def heartbeat(stage: str, step: str, every_seconds: float = HEARTBEAT_SECONDS) -> Iterator[None]:
    """Log ``[stage] step … elapsed=…`` every ``every_seconds`` until the block ends."""
    started = time.monotonic()
    stopped = threading.Event()

    def line() -> str:
        return f"[{stage}] {step} elapsed={time.monotonic() - started:.1f}s"

    def beat() -> None:
        while not stopped.wait(every_seconds):
            log.info("%s", line())

    log.info("%s", line())
    thread = threading.Thread(target=beat, name=f"heartbeat-{step}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stopped.set()
        thread.join()
        log.info("%s done", line())
