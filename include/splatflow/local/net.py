"""Small network helpers for the embedded runtime."""

from __future__ import annotations

import socket


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS says is free now (aiosmtpd needs a concrete port up front)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def loopback_host() -> str:
    """The host name Airflow records for a task or trigger on ``up``'s stack (``[core] hostname_callable``).

    The API server fetches a running task's log from the log server at that host; ``up``'s log
    servers listen on loopback only, where the machine's own name may resolve elsewhere
    (Debian maps it to 127.0.1.1).
    """
    return "127.0.0.1"
