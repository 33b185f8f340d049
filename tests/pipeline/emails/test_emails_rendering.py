"""The emails: figures and links in the success email, stage and advice in the failure email, escaping."""

from __future__ import annotations

import dataclasses
import html
import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import markupsafe
import pytest

from splatflow.contract.failures import FailureCode
from splatflow.contract.outputs import STILLS
from splatflow.pipeline.emails.diagnosis import diagnose
from splatflow.pipeline.emails.rendering import (
    RenderedEmail,
    ResultLinks,
    format_duration,
    format_usd,
    render_failure_email,
    render_success_email,
)
from splatflow.pipeline.manifest import FailureRecord, QualityMetrics, StageRecord, build_manifest
from splatflow.pipeline.s3_locations import S3Location
from splatflow.pipeline.submission import Submission

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
SOG_LINK = "https://work.s3.amazonaws.com/runs/x/scene.sog?X-Amz-Expires=604800&X-Amz-Signature=abc"
PLY_LINK = "https://work.s3.amazonaws.com/runs/x/splat.ply?X-Amz-Expires=604800&X-Amz-Signature=def"
VIEWER_LINK = "https://viewer.example.com/?load=https%3A%2F%2Fwork.s3.amazonaws.com%2Fscene.sog&v=2"
LINKS = ResultLinks(sog=SOG_LINK, ply=PLY_LINK, viewer=VIEWER_LINK, expires_at=NOW + timedelta(days=7))
HOSTILE_NAME = "<b onmouseover=alert('x')>&\"photos\".zip"


def manifest_for(key: str = "survey/coast.zip", **overrides: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "run_id": "manual__2026-05-01T11:00:00+00:00",
        "submission": Submission(email="pilot@example.com", preset="high", input=S3Location("drone-uploads", key)),
        "stages": [
            StageRecord("sfm", "sfm-1", "ml.c6i.2xlarge", 1, 600, 600),
            StageRecord("train", "train-1", "ml.g4dn.xlarge", 1, 1800, 600),
            StageRecord("compress", "compress-1", "ml.c6i.4xlarge", 1, 120, 120),
        ],
        "quality": QualityMetrics(
            photos_received=40,
            photos_registered=37,
            psnr_db=24.56,
            ssim=0.81,
            gaussians=1_234_567,
            ply_bytes=59_000_000,
            sog_bytes=5_900_000,
        ),
        "outputs": {"sog": S3Location("work", "runs/x/scene.sog")},
        "created_at": NOW,
        "run_started_at": NOW - timedelta(minutes=45, seconds=30),
    }
    return build_manifest(**{**arguments, **overrides})


class _Collector(HTMLParser):
    """Every tag with its attributes and all text, as a browser's parser would see them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parsed(document: str) -> _Collector:
    collector = _Collector()
    collector.feed(document)
    return collector


def links_in(document: str) -> dict[str, str]:
    """Link text -> href, hrefs unescaped the way a mail client reads them."""
    pattern = re.compile(r'<a href="([^"]*)"[^>]*>(.*?)</a>', re.DOTALL)
    return {html.unescape(re.sub("<[^>]+>", "", text)): html.unescape(href) for href, text in pattern.findall(document)}


# --- success -------------------------------------------------------------------------------------------


def test_the_success_email_shows_its_stills_inline_by_unique_content_ids() -> None:
    stills = {name: S3Location("work", f"runs/x/compress/{file_name}") for name, file_name in STILLS.items()}
    email = render_success_email(manifest_for(outputs={"sog": S3Location("work", "runs/x/scene.sog"), **stills}), LINKS)
    images = [attrs for tag, attrs in parsed(email.html).tags if tag == "img"]
    assert list(email.content_ids) == list(STILLS.values()), "the preview first, then the orbit thumbnails"
    assert [image["src"] for image in images] == [f"cid:{cid}" for cid in email.content_ids.values()]
    assert all(image["alt"] for image in images)
    for file_name, cid in email.content_ids.items():
        assert cid.endswith(f".{file_name}@splatflow"), "the file name stays readable in its Content-ID"
    other = render_success_email(manifest_for(outputs={"sog": S3Location("work", "x.sog"), **stills}), LINKS)
    assert not set(other.content_ids.values()) & set(email.content_ids.values()), "Content-IDs are unique"
    assert "pictures of your splat are in the HTML version" in email.text


def test_a_success_email_without_stills_shows_no_picture() -> None:
    email = render_success_email(manifest_for(), LINKS, now=NOW)
    assert email.content_ids == {}
    assert [tag for tag, _ in parsed(email.html).tags if tag == "img"] == []
    assert "pictures" not in email.text


def test_the_success_email_links_the_downloads_and_the_viewer_exactly() -> None:
    email = render_success_email(manifest_for(), LINKS, now=NOW)
    links = links_in(email.html)
    assert links["View in 3D"] == VIEWER_LINK
    assert links["Compressed splat (.sog, 5.9 MB)"] == SOG_LINK
    assert links["Full splat (.ply, 59.0 MB)"] == PLY_LINK
    assert "&amp;X-Amz-Signature" in email.html  # an ampersand in an attribute is escaped
    for link in (SOG_LINK, PLY_LINK, VIEWER_LINK):
        assert link in email.text


def test_the_success_email_states_when_the_links_expire() -> None:
    email = render_success_email(manifest_for(), LINKS, now=NOW)
    for part in (email.html, email.text):
        assert "08 May 2026, 12:00 UTC" in part
        assert "in 7 days" in part


def test_the_success_email_carries_every_figure() -> None:
    email = render_success_email(manifest_for(), LINKS, now=NOW)
    manifest = manifest_for()
    expected = {
        "Photos placed in the 3D model": "37 of 40",
        "Image quality on photos held back from training (PSNR)": "24.6 dB",
        "Gaussians": "1,234,567",
        "Size (.ply → .sog)": "59.0 MB → 5.9 MB",
        "Compression ratio": "10.0×",
        "Processing time": "45 min 30 s",
        "What SageMaker would charge (estimate)": format_usd(manifest["total_cost_usd"]),
    }
    cells = [text.strip() for text in parsed(email.html).text if text.strip()]
    for label, value in expected.items():
        assert cells[cells.index(label) + 1] == value
        assert f"- {label}: {value}" in email.text
    assert expected["What SageMaker would charge (estimate)"].startswith("$")


def test_the_success_subject_names_the_submission() -> None:
    email = render_success_email(manifest_for(), LINKS, now=NOW)
    assert email.subject == "Your 3D splat of coast.zip is ready"


def test_figures_a_partial_run_did_not_produce_show_as_missing() -> None:
    manifest = manifest_for(
        submission=Submission(email="p@example.com", steps="compress_only", model=S3Location("b-1", "m.ply")),
        stages=[StageRecord("compress", "compress-1", "ml.p9.mega", 1, 120, 120)],
        quality=QualityMetrics(gaussians=1000, ply_bytes=250_000, sog_bytes=25_000),
        run_started_at=None,
    )
    email = render_success_email(manifest, LINKS, now=NOW)
    assert "- Photos placed in the 3D model: —" in email.text
    assert "- What SageMaker would charge (estimate): —" in email.text  # an unpriced instance is not guessed
    assert "- Processing time: 2 min 0 s" in email.text  # compute time when the run's start is unknown


def test_user_controlled_names_are_escaped_in_the_html_and_kept_to_one_line_in_the_subject() -> None:
    email = render_success_email(manifest_for(key=f"a/{HOSTILE_NAME}"), LINKS, now=NOW)
    assert "<b " not in email.html
    assert "&lt;b onmouseover=alert(&#39;x&#39;)&gt;&amp;&#34;photos&#34;.zip" in email.html
    assert not [tag for tag, _ in parsed(email.html).tags if tag == "b"]
    assert HOSTILE_NAME in email.text  # plain text needs no escaping
    assert "\n" not in email.subject and "\r" not in email.subject


def test_a_long_name_is_shortened_in_the_subject() -> None:
    email = render_success_email(manifest_for(key="x" * 300 + ".zip"), LINKS, now=NOW)
    assert len(email.subject) < 120
    assert "…" in email.subject


def test_only_a_succeeded_run_gets_a_success_email() -> None:
    failed = manifest_for(failure=FailureRecord("train", FailureCode.DIVERGED, "diverged"))
    with pytest.raises(ValueError, match="succeeded"):
        render_success_email(failed, LINKS, now=NOW)


@pytest.mark.parametrize(
    "url",
    ["javascript:alert(1)", "data:text/html,<b>x</b>", "ftp://host/x", "https://host/x\r\nBcc: y", "/relative"],
)
def test_links_must_be_plain_http_urls(url: str) -> None:
    with pytest.raises(ValueError, match="http"):
        ResultLinks(sog=url, ply=PLY_LINK, viewer=VIEWER_LINK, expires_at=NOW)


def test_link_expiry_needs_a_timezone() -> None:
    with pytest.raises(ValueError, match="timezone"):
        ResultLinks(sog=SOG_LINK, ply=PLY_LINK, viewer=VIEWER_LINK, expires_at=datetime(2026, 5, 1))


# --- failure -------------------------------------------------------------------------------------------


def failure(
    step: str, reason: str, source_name: str | None = "coast.zip", code: FailureCode = FailureCode.NO_OVERLAP
) -> RenderedEmail:
    return render_failure_email(step=step, code=code, reason=reason, run_id="manual__run-1", source_name=source_name)


@pytest.mark.parametrize(
    ("step", "label"),
    [
        ("validate", "input check"),
        ("wait_for_input", "upload check"),
        ("sfm", "photo alignment (SfM)"),
        ("train", "3D training"),
        ("compress", "compression"),
        ("publish", "publishing the results"),
        ("something_new", "processing"),
    ],
)
def test_the_failure_email_names_the_step(step: str, label: str) -> None:
    email = failure(step, "it broke")
    assert f"stopped at the {label} step" in email.text
    assert f"<strong>{html.escape(label)}</strong>" in email.html
    assert "manual__run-1" in email.text and "manual__run-1" in email.html


# Words each code's advice must hold: the advice follows the code, whatever the reason says.
ADVICE = {
    FailureCode.INVALID_SUBMISSION: "Correct it",
    FailureCode.BUCKET_NOT_ALLOWED: "bucket",
    FailureCode.INPUT_MISSING: "upload has finished",
    FailureCode.NOT_AN_ARCHIVE: "ZIP",
    FailureCode.UNSAFE_ARCHIVE: "fresh ZIP",
    FailureCode.NO_PHOTOS: ".jpg",
    FailureCode.TOO_FEW_PHOTOS: "more photos",
    FailureCode.TOO_LARGE: "Split",
    FailureCode.NO_OVERLAP: "overlap",
    FailureCode.BAD_SFM_OUTPUT: "sfm/ folder",
    FailureCode.BAD_MODEL: "model.tar.gz",
    FailureCode.DIVERGED: "preview preset",
    FailureCode.QUALITY_CHECK: "high preset",
    FailureCode.INVALID_SETTINGS: "operator",
    FailureCode.NO_GPU: "operator",
    FailureCode.OUT_OF_MEMORY: "preset",
    FailureCode.TIME_LIMIT: "time limit",
    FailureCode.SERVICE_INTERRUPTED: "submit it again",
    FailureCode.INTERNAL: "forward this email",
}


@pytest.mark.parametrize("code", list(FailureCode))
def test_each_failure_code_gets_its_advice(code: FailureCode) -> None:
    email = failure("sfm", "the step's own words", code=code)
    diagnosis = diagnose(code)
    assert ADVICE[code] in diagnosis.action + diagnosis.problem
    assert diagnosis.action in email.text
    assert str(markupsafe.escape(diagnosis.action)) in email.html


def test_the_advice_follows_the_code_not_the_words() -> None:
    email = failure("sfm", "the photos may not overlap", code=FailureCode.TOO_LARGE)
    assert diagnose(FailureCode.TOO_LARGE).action in email.text
    assert diagnose(FailureCode.NO_OVERLAP).action not in email.text


def test_the_reason_is_shown_in_plain_words() -> None:
    email = failure(
        "sfm",
        "AlgorithmError: only 3 of 40 photos could be placed in the 3D model; the photos may not overlap, exit code: 1",
    )
    assert "Only 3 of 40 photos could be placed in the 3D model; the photos may not overlap." in email.text
    assert "AlgorithmError" not in email.text and "exit code" not in email.text


TRACEBACK_REASON = """AlgorithmError: RuntimeError: boom
Traceback (most recent call last):
  File "/opt/app/splatflow/stages/train/trainer.py", line 205, in train_step
    loss.backward()
  File "/usr/lib/python3.11/site-packages/torch/_tensor.py", line 521, in backward
    torch.autograd.backward(
RuntimeError: CUDA error: an illegal memory access was encountered
"""


@pytest.mark.parametrize("code", [FailureCode.INTERNAL, FailureCode.SERVICE_INTERRUPTED])
def test_a_stack_trace_never_reaches_the_user(code: FailureCode) -> None:
    email = failure("train", TRACEBACK_REASON, code=code)
    for part in (email.text, email.html):
        assert "Traceback" not in part
        assert 'File "' not in part and "File &#34;" not in part
        assert "/opt/app" not in part and "loss.backward" not in part


def test_an_internal_failure_shows_no_exception_only_that_it_was_internal() -> None:
    email = failure("sfm", "KeyError: 'camera_id'", code=FailureCode.INTERNAL)
    assert "camera_id" not in email.text and "KeyError" not in email.text
    assert "internal error" in email.text


def test_reasons_and_names_from_the_zip_are_escaped_and_cannot_fold_the_subject() -> None:
    email = failure(
        "sfm",
        "refusing the ZIP: member '<img src=x onerror=alert(1)>' is a symbolic link",
        HOSTILE_NAME + "\r\nBcc: x@y",
        code=FailureCode.UNSAFE_ARCHIVE,
    )
    assert "<img" not in email.html and "&lt;img src=x onerror=alert(1)&gt;" in email.html
    assert not [tag for tag, _ in parsed(email.html).tags if tag in {"b", "img"}]
    assert "\r" not in email.subject and "\n" not in email.subject
    assert email.subject.startswith("Your 3D splat for <b onmouseover")


def test_a_failure_without_a_known_source_still_reads_well() -> None:
    email = failure(
        "validate", "s3_url has a query string ('?...')", source_name=None, code=FailureCode.INVALID_SUBMISSION
    )
    assert email.subject == "Your 3D splat could not be made"
    assert "Processing stopped at the input check step." in email.text


# --- formatting ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"), [(None, "—"), (42.4, "42 s"), (2730, "45 min 30 s"), (3 * 3600 + 120, "3 h 2 min")]
)
def test_durations_read_in_human_units(seconds: float | None, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize(("amount", "text"), [(None, "—"), (0.004, "less than $0.01"), (1.236, "$1.24")])
def test_costs_read_in_dollars(amount: float | None, text: str) -> None:
    assert format_usd(amount) == text


def test_a_refused_bucket_is_named_as_one_the_service_takes_no_submissions_from() -> None:
    email = failure("validate", "the bucket 'x' is not allowed for submissions", code=FailureCode.BUCKET_NOT_ALLOWED)

    assert "a bucket this service does not take submissions from" in email.text
    assert "may not read" not in email.text


def test_the_success_email_offers_the_spz_and_the_glb_with_their_sizes() -> None:
    quality = QualityMetrics(ply_bytes=59_000_000, sog_bytes=5_900_000, spz_bytes=7_200_000, glb_bytes=61_500_000)
    links = dataclasses.replace(LINKS, spz=SOG_LINK + "&f=spz", glb=SOG_LINK + "&f=glb")
    email = render_success_email(manifest_for(quality=quality), links, now=NOW)
    found = links_in(email.html)
    assert found["The splat as .spz (7.2 MB)"] == links.spz
    assert found["The splat as glTF (.glb, 61.5 MB)"] == links.glb
    assert "The splat as .spz (7.2 MB), for SPZ tools and three.js:" in email.text
    assert f"(.glb, KHR_gaussian_splatting, 61.5 MB):\n  {links.glb}\n\nThese links" in email.text


def test_a_large_scene_says_where_its_streamed_version_streams_and_its_sizes() -> None:
    quality = QualityMetrics(sog_bytes=39_000_000, lod_bytes=52_000_000, lod_first_frame_bytes=700_000)
    email = render_success_email(manifest_for(quality=quality), LINKS, now=NOW)
    for body in (email.text, email.html):
        assert "A streamed version for this large scene (52.0 MB, 700.0 kB before its first view" in body
        assert "run's Splat tab in Airflow" in body
    assert "streamed version" not in render_success_email(manifest_for(), LINKS, now=NOW).text


def test_a_run_published_without_spz_or_glb_offers_neither() -> None:
    email = render_success_email(manifest_for(), LINKS, now=NOW)
    assert ".spz" not in email.text and ".glb" not in email.text
    assert "Full splat (.ply, 59.0 MB):\n  " + PLY_LINK + "\n\nThese links" in email.text


def test_a_geo_registered_run_offers_its_tileset_and_its_content() -> None:
    links = dataclasses.replace(LINKS, tileset=SOG_LINK + "&f=tileset", tile=SOG_LINK + "&f=tile")
    email = render_success_email(manifest_for(), links, now=NOW)
    assert links_in(email.html)["tileset.json"] == links.tileset
    assert (
        "3D Tiles tileset for CesiumJS and Cesium ion (the tileset link loads in CesiumJS as it is until the"
        f" links expire: it names tile.glb by its link):\n  {links.tileset}\n" in email.text
    )


def test_a_run_without_a_tileset_says_why() -> None:
    email = render_success_email(
        manifest_for(no_tileset="the photos could not be aligned to GPS (no GPS)"), LINKS, now=NOW
    )
    assert "No map tileset: the photos could not be aligned to GPS (no GPS)." in email.text
    assert "No map tileset: the photos could not be aligned to GPS (no GPS).</li>" in email.html
