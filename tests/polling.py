"""Waiting in tests for something that a server or a stack makes true in its own time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(
    condition: Callable[[], T],
    timeout: float,
    what: str,
    interval: float = 1.0,
    retrying: tuple[type[Exception], ...] = (),
) -> T:
    """The first truthy value of ``condition``, polled every ``interval`` seconds; an exception of a
    ``retrying`` type counts as not yet (a server still starting). Fails naming ``what`` at ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
            if value:
                return value
        except retrying:
            pass
        assert time.monotonic() < deadline, f"{what} within {timeout:.0f} s"
        time.sleep(interval)
