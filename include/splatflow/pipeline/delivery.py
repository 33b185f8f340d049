"""Send the result or failure email through the ``smtp_default`` connection, exactly once.

The success email carries the preview and the orbit thumbnails inline (attachments whose
Content-IDs are their file names); a record in the run's prefix marks each email sent, so
clearing or re-running the task never emails the user twice.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.providers.smtp.hooks.smtp import SmtpHook

from splatflow.pipeline.failures import Failure
from splatflow.pipeline.layout import RunLayout
from splatflow.pipeline.notifications import (
    RenderedEmail,
    render_failure_email,
    render_success_email,
    still_names,
)
from splatflow.pipeline.publishing import presigned_links, put_json, read_json, record_failure
from splatflow.pipeline.settings import PipelineSettings
from splatflow.pipeline.submission import SubmissionError, validate_email

if TYPE_CHECKING:
    # Annotations only: preparation asks this module whether a run was delivered.
    from splatflow.pipeline.preparation import PreparedRun

log = logging.getLogger(__name__)


def _send(smtp_conn_id: str, to: str, email: RenderedEmail, files: list[str]) -> None:
    with SmtpHook(smtp_conn_id=smtp_conn_id) as hook:
        hook.send_email_smtp(to=to, subject=email.subject, html_content=email.html, files=files)


def _already_sent(s3: Any, layout: RunLayout, kind: str) -> bool:
    record = read_json(s3, layout.bucket, layout.delivery_key)
    return record is not None and kind in record


def result_delivered(s3: Any, layout: RunLayout) -> bool:
    """True once the run's result email went out: from then on its outputs are what the user has."""
    return _already_sent(s3, layout, "success")


def _mark_sent(s3: Any, layout: RunLayout, kind: str, to: str, settings: PipelineSettings) -> None:
    record = read_json(s3, layout.bucket, layout.delivery_key) or {}
    record[kind] = {"to": to, "sent_at": datetime.now(UTC).isoformat()}
    put_json(s3, layout.bucket, layout.delivery_key, record, settings.kms_key_id)


def deliver_success(
    prepared: PreparedRun, manifest: Mapping[str, Any], s3: Any, smtp_conn_id: str, settings: PipelineSettings
) -> bool:
    """Email the result; False when it had already been sent for this run."""
    layout = prepared.layout
    if result_delivered(s3, layout):
        log.info("the result email of run %s was already sent; not sending it again", prepared.run_id)
        return False
    email = render_success_email(manifest, presigned_links(manifest, settings, s3))
    with tempfile.TemporaryDirectory() as folder:
        files = []
        for name in still_names(manifest["outputs"]):
            # Attached under "<output name>.png": the Content-ID the email's cid: references use.
            path = Path(folder) / f"{name}.png"
            bucket, _, key = manifest["outputs"][name].removeprefix("s3://").partition("/")
            s3.download_file(bucket, key, str(path))
            files.append(str(path))
        _send(smtp_conn_id, prepared.submission.email, email, files)
    _mark_sent(s3, layout, "success", prepared.submission.email, settings)
    log.info("result email of run %s sent", prepared.run_id)
    return True


def deliver_failure(
    params: Mapping[str, Any],
    run_id: str,
    prepared: PreparedRun | None,
    failure: Failure,
    s3: Any,
    smtp_conn_id: str,
    settings: PipelineSettings,
) -> bool:
    """Email why the run failed and record a failed manifest; False when no email could be sent."""
    if prepared is not None:
        address = prepared.submission.email
        source = prepared.submission.source.name
    else:
        try:
            address = validate_email(str(params.get("email", "")))
        except SubmissionError:
            log.warning("run failed at %s, and its email address is not usable; no email sent", failure.stage)
            return False
        source = None
    email = render_failure_email(stage=failure.stage, reason=failure.reason, run_id=run_id, source_name=source)
    if prepared is not None:
        if _already_sent(s3, prepared.layout, f"failure:{failure.stage}"):
            log.info("the failure email for this stage was already sent; not sending it again")
            return False
        record_failure(prepared, settings, s3, failure.stage, failure.reason)
    _send(smtp_conn_id, address, email, [])
    if prepared is not None:
        _mark_sent(s3, prepared.layout, f"failure:{failure.stage}", address, settings)
    log.info("failure email sent: %s failed: %s", failure.stage, failure.reason)
    return True
