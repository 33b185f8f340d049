"""What a failure means for the user, one piece of advice per code, and its reason cleaned for reading."""

from __future__ import annotations

import pytest

from splatflow.contract.failures import FailureCode
from splatflow.pipeline.emails.diagnosis import MAX_REASON_CHARS, diagnose, plain_reason, visible


def test_codes_that_mean_different_things_give_different_advice() -> None:
    assert len({diagnose(code) for code in FailureCode}) == len(FailureCode)
    assert diagnose(FailureCode.INTERNAL).action.startswith("Submit again a little later")


def test_a_chained_trace_is_dropped_but_the_message_around_it_is_kept() -> None:
    reason = (
        'photos.zip is damaged\nTraceback (most recent call last):\n  File "a.py", line 1, in f\n    g()\n'
        "ValueError: x\n\nDuring handling of the above exception, another exception occurred:\n\n"
        'Traceback (most recent call last):\n  File "b.py", line 2, in h\n    raise\nzipfile.BadZipFile: y\n'
    )
    assert plain_reason(reason) == "photos.zip is damaged"


def test_a_long_reason_is_bounded() -> None:
    cleaned = plain_reason("the photos are odd; " * 200)
    assert len(cleaned) <= MAX_REASON_CHARS
    assert cleaned.endswith("…")


def test_presigned_query_strings_are_removed_from_reasons() -> None:
    cleaned = plain_reason(
        "ClientError: could not read https://b.s3.amazonaws.com/k.zip"
        "?X-Amz-Credential=AKIA123&X-Amz-Signature=f00 (403)"
    )
    assert "X-Amz" not in cleaned and "AKIA" not in cleaned
    assert "https://b.s3.amazonaws.com/k.zip" in cleaned


@pytest.mark.parametrize("reason", ["", "   ", "\n\n", "AlgorithmError: "])
def test_an_empty_reason_still_reads_as_a_sentence(reason: str) -> None:
    assert plain_reason(reason) == "the job gave no reason"


def test_control_and_format_characters_become_spaces() -> None:
    assert visible("a\r\nBcc: x\u200bq") == "a  Bcc: x q"
