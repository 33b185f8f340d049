"""A local SMTP server that saves every message it receives as an ``.eml`` file.

It stands in for SES's SMTP interface: the DAG's ``EmailOperator`` sends exactly as it would in
production, and tests read the saved messages to check what a user would receive.
"""

from __future__ import annotations

import itertools
import logging
import time
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from splatflow.local.net import free_port

log = logging.getLogger(__name__)


class SaveToFolder:
    """aiosmtpd handler: one ``<time>-<n>.eml`` per message, written atomically."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._counter = itertools.count(1)
        folder.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        content = envelope.original_content or b""
        name = f"{time.strftime('%Y%m%dT%H%M%S')}-{next(self._counter):04d}.eml"
        tmp = self.folder / f".{name}.tmp"
        tmp.write_bytes(content)
        tmp.replace(self.folder / name)
        log.info("mail from %s to %s saved as %s", envelope.mail_from, ", ".join(envelope.rcpt_tos), name)
        return "250 Message accepted for delivery"


class SmtpSink:
    def __init__(self, folder: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self.folder = folder
        self.controller = Controller(SaveToFolder(folder), hostname=host, port=port or free_port(host))

    @property
    def host(self) -> str:
        return str(self.controller.hostname)

    @property
    def port(self) -> int:
        return int(self.controller.port)

    def start(self) -> None:
        self.controller.start()
        log.info("SMTP sink on %s:%d saving to %s", self.host, self.port, self.folder)

    def stop(self) -> None:
        self.controller.stop()

    def messages(self) -> list[Path]:
        return sorted(self.folder.glob("*.eml"))
