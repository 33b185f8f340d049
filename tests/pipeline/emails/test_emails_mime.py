"""The emails' MIME shape: text and HTML as alternatives, pictures inline, a Message-ID and a Date."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime

import pytest
from mail_structure import inline_pictures

from splatflow.pipeline.emails.mime import InlinePicture, build_message, content_id

PNG = b"\x89PNG\r\n\x1a\n a stand-in picture"
SENT_AT = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def _sent(**overrides: object) -> email.message.EmailMessage:
    """The message as a mail app receives it: built, serialised, parsed back."""
    arguments: dict[str, object] = {
        "sender": "Splat Service <splats@survey.example.com>",
        "to": "pilot@example.com",
        "subject": "Your 3D splat of coast.zip is ready",
        "text": "Your splat is ready.",
        "html": "<p>Your splat is ready.</p>",
        "now": SENT_AT,
        **overrides,
    }
    built = build_message(**arguments)  # type: ignore[arg-type]
    parsed = email.message_from_bytes(built.as_bytes(), policy=email.policy.default)
    assert isinstance(parsed, email.message.EmailMessage)
    return parsed


def test_text_and_html_travel_as_alternatives_with_a_date_and_a_message_id_under_the_senders_domain() -> None:
    message = _sent()
    assert inline_pictures(message) == {}
    assert message["Date"] == "Fri, 01 May 2026 12:00:00 +0000"
    assert message["Message-ID"].endswith("@survey.example.com>")
    assert message["Message-ID"] != _sent()["Message-ID"]
    plain, rich = message.get_body(("plain",)), message.get_body(("html",))
    assert plain is not None and plain.get_content().strip() == "Your splat is ready."
    assert rich is not None and rich.get_content().strip() == "<p>Your splat is ready.</p>"


def test_pictures_sit_inline_beside_the_html_that_shows_them() -> None:
    cids = [content_id("preview.png"), content_id("orbit_1.png")]
    html = "".join(f'<img src="cid:{cid}">' for cid in cids)
    pictures = [InlinePicture(cids[0], "preview.png", PNG), InlinePicture(cids[1], "orbit_1.png", PNG + b"!")]

    shown = inline_pictures(_sent(html=html, pictures=pictures))

    assert {name: part.get_content() for name, part in shown.items()} == {"preview.png": PNG, "orbit_1.png": PNG + b"!"}


def test_a_file_not_named_as_an_image_cannot_be_shown_inline() -> None:
    with pytest.raises(ValueError, match=r"report\.json"):
        build_message(
            sender="a@b.example",
            to="c@d.example",
            subject="s",
            text="t",
            html="<p>h</p>",
            pictures=[InlinePicture(content_id("report.json"), "report.json", b"{}")],
        )
