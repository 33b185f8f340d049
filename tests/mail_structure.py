"""What mail apps need of a message, checked on the message as the SMTP sink saved it.

A mail app shows the last alternative it can (RFC 2046): plain text first, then the HTML, which,
with pictures, sits in a ``multipart/related`` beside them. A picture shows in the text only as
an inline image part whose ``Content-ID`` a ``cid:`` reference names; anything else is listed as
an attachment. ``Message-ID`` and ``Date`` are headers every message should carry (RFC 5322).
"""

from __future__ import annotations

import email
import email.policy
import re
from email.message import EmailMessage, MIMEPart
from email.utils import parsedate_to_datetime
from pathlib import Path

MESSAGE_ID = re.compile(r"<[^<>@\s]+@[^<>@\s]+>")
CID_REFERENCE = re.compile(r"""src=["']cid:([^"']+)["']""")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def read_eml(path: Path) -> EmailMessage:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def inline_pictures(message: EmailMessage) -> dict[str, MIMEPart]:
    """The pictures the HTML shows, by file name, once the message is checked to be shaped as mail apps expect."""
    assert MESSAGE_ID.fullmatch(str(message["Message-ID"])), message["Message-ID"]
    assert parsedate_to_datetime(str(message["Date"])).tzinfo is not None, "a Date, in a named zone"

    assert message.get_content_type() == "multipart/alternative"
    text, rich = list(message.iter_parts())
    assert text.get_content_type() == "text/plain" and text.get_content().strip()
    if rich.get_content_type() == "text/html":
        html_part, pictures = rich, []
    else:
        assert rich.get_content_type() == "multipart/related"
        html_part, *pictures = list(rich.iter_parts())
        assert html_part.get_content_type() == "text/html"
        assert rich.get_param("type") == "text/html", "RFC 2387: the group names its root part's type"
    html = html_part.get_content()

    shown: dict[str, MIMEPart] = {}
    for picture in pictures:
        assert picture.get_content_type() == "image/png", picture.get_content_type()
        assert picture.get_content_disposition() == "inline"
        content_id = str(picture["Content-ID"])
        assert MESSAGE_ID.fullmatch(content_id), content_id
        assert f'src="cid:{content_id[1:-1]}"' in html, f"{content_id} is not shown by the HTML"
        assert picture.get_content().startswith(PNG_SIGNATURE)
        name = picture.get_filename()
        assert name is not None
        shown[name] = picture
    referenced = set(CID_REFERENCE.findall(html))
    assert referenced == {str(part["Content-ID"])[1:-1] for part in shown.values()}, "every cid: has its picture"

    for part in message.walk():
        assert part.get_content_type() != "application/octet-stream"
        assert part.get_content_disposition() != "attachment"
    return shown
