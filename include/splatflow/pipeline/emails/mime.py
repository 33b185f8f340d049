"""The run's emails as MIME messages shaped the way mail apps expect them.

``multipart/alternative`` with the plain text first and the HTML last (RFC 2046: the last part
is the one preferred); when the HTML shows pictures, it sits in a ``multipart/related`` with each
picture an inline image part whose ``Content-ID`` its ``cid:`` references name (RFC 2387,
RFC 2392), so mail apps show the pictures in the text instead of listing them as attachments.
Every message carries a ``Date`` and a ``Message-ID`` (RFC 5322; spam filters count a missing
``Message-ID`` against the sender).

The message is built here, with the standard library's ``email`` package, because the SMTP
provider's hook builds only one shape: ``multipart/mixed`` with an HTML part and every file an
``application/octet-stream`` attachment (``SmtpHook._build_mime_message``, providers-smtp 3.2.0).
"""

from __future__ import annotations

import mimetypes
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr

CONTENT_ID_DOMAIN = "splatflow"
"""The right-hand side of the pictures' Content-IDs: any dot-atom will do, uniqueness comes from the left."""


def content_id(file_name: str) -> str:
    """A world-unique Content-ID for a picture (RFC 2045), without its angle brackets, as ``cid:``
    references name it: the time, the process and a random number, then the file name, kept readable."""
    return make_msgid(idstring=file_name, domain=CONTENT_ID_DOMAIN)[1:-1]


@dataclass(frozen=True)
class InlinePicture:
    """A picture the HTML shows by ``cid:<content_id>``."""

    content_id: str
    file_name: str
    data: bytes

    @property
    def subtype(self) -> str:
        """The image subtype its file name says (``png`` for ``preview.png``)."""
        kind = mimetypes.guess_type(self.file_name)[0] or ""
        maintype, _, subtype = kind.partition("/")
        if maintype != "image":
            raise ValueError(f"{self.file_name!r} is not named as an image, so it cannot be shown inline")
        return subtype


def build_message(
    *,
    sender: str,
    to: str,
    subject: str,
    text: str,
    html: str,
    pictures: Sequence[InlinePicture] = (),
    now: datetime | None = None,
) -> EmailMessage:
    """The email, whole: headers, the two versions of its text, its pictures inline in the HTML.

    The ``Message-ID`` is made under the sender's domain, as mail servers make their own.
    """
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = to
    message["Date"] = format_datetime(now or datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=parseaddr(sender)[1].rpartition("@")[2] or None)
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    if pictures:
        *_, html_part = message.iter_parts()
        for picture in pictures:
            html_part.add_related(
                picture.data,
                "image",
                picture.subtype,
                cid=f"<{picture.content_id}>",
                disposition="inline",
                filename=picture.file_name,
            )
        html_part.set_param("type", "text/html")  # RFC 2387: multipart/related names its root's type
    return message
