"""The Splat tab of a run with no splat says why and what to do, for each way a run ends up with none."""

from __future__ import annotations

import pytest

from splatflow.viewer.page import notice_page
from splatflow.viewer_plugin.no_splat import RunRecord, explain_no_splat

RUN = "manual__2026-12-07T10:00:00+00:00"


@pytest.mark.parametrize(
    ("record", "title", "advice_names"),
    [
        (RunRecord("failed", "upstream_failed"), "This run failed before it published a splat", "on_failure task"),
        (RunRecord("failed", None), "This run failed before it published a splat", "failure email"),
        (RunRecord("success", "success"), "This run's splat is gone", "Trigger the run again"),
        (RunRecord("failed", "success"), "This run's splat is gone", "Trigger the run again"),
        (RunRecord("running", None), "The splat is not ready yet", "Reload this tab"),
        (RunRecord("queued", None), "The splat is not ready yet", "Reload this tab"),
        (RunRecord(None, None), "There is no such run", "list of runs"),
        (RunRecord("success", "skipped"), "This run published no splat", "compress_only"),
    ],
)
def test_each_way_to_no_splat_is_explained(record: RunRecord, title: str, advice_names: str) -> None:
    notice = explain_no_splat(record, RUN)

    assert notice.title == title
    assert advice_names in notice.advice


def test_a_lost_splat_names_the_in_memory_s3_of_make_up() -> None:
    notice = explain_no_splat(RunRecord("success", "success"), RUN)

    assert "make up keeps its local S3 in memory" in notice.reason


def test_the_notice_page_escapes_what_it_shows_and_uses_the_viewers_style() -> None:
    page = notice_page("A <title>", "a reason & more", "advice", "manual__<run>")

    assert "<h1>A &lt;title&gt;</h1>" in page
    assert "a reason &amp; more" in page and "manual__&lt;run&gt;" in page
    assert "#notice {" in page and "background: #1d1f24" in page


def test_a_failed_run_names_the_step_that_failed() -> None:
    assert explain_no_splat(RunRecord("failed", "upstream_failed", "compress"), RUN).reason == (
        "Its compress step failed, so nothing was published."
    )
