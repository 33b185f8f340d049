"""What the result and the failure email say, to whom, with which pictures, under which record.

Each ``compose_*`` function returns an :class:`OutgoingEmail` for the email operators
(``email_operator``), which compose when they send: they fetch the pictures from S3, send through
the ``smtp_default`` connection and keep the run's delivery record, so each email goes out once.
"""

from __future__ import annotations

import logging
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from splatflow.pipeline.emails.rendering import ResultLinks, inline_stills, render_failure_email, render_success_email
from splatflow.pipeline.failures import Failure
from splatflow.pipeline.layout import RunLayout
from splatflow.pipeline.link_signing import LinkSigner
from splatflow.pipeline.manifest import FailureRecord
from splatflow.pipeline.publishing import record_failure
from splatflow.pipeline.records import RESULT_ENTRY, email_sent, failure_entry
from splatflow.pipeline.refusal import SubmissionError
from splatflow.pipeline.run_plan import PreparedRun
from splatflow.pipeline.settings import PipelineSettings
from splatflow.pipeline.signed_index import IndexSigner, signed_lod_bundle, signed_tileset
from splatflow.pipeline.submission import validate_email
from splatflow.viewer import viewer_link

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeliveryRecord:
    """Where a run notes its sent emails, and the entry for this one (``records.RESULT_ENTRY``…)."""

    bucket: str
    prefix: str
    entry: str

    @property
    def layout(self) -> RunLayout:
        return RunLayout(self.bucket, self.prefix)

    @classmethod
    def of(cls, layout: RunLayout, entry: str) -> DeliveryRecord:
        return cls(layout.bucket, layout.prefix, entry)


@dataclass(frozen=True)
class OutgoingEmail:
    """An email for the email operator, in its parameters' names."""

    to: str | None
    """None when the submission gave no usable address: nothing is sent."""
    subject: str
    html_content: str
    text_content: str
    """The same words as plain text, for mail apps that show no HTML."""
    pictures: dict[str, str]
    """S3 URIs of the pictures the HTML shows, by the Content-ID its ``cid:`` references name."""
    delivery_record: DeliveryRecord | None
    """None for a run refused before it had a prefix: there is no record to keep."""


def presigned_links(
    manifest: Mapping[str, Any], settings: PipelineSettings, signer: LinkSigner, s3: Any, now: datetime | None = None
) -> ResultLinks:
    """Download and viewer links that work from the email alone, for as long as the signer allows.

    The streamed bundle and the tileset name their other files, so their links open signed copies
    (``signed_index``) that ``s3``, the pipeline's connection, writes beside them first.
    """
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    lifetime = signer.lifetime(settings.presign_expiry_seconds, now)
    if lifetime.expires_at - now < timedelta(seconds=settings.presign_expiry_seconds):
        log.warning(
            "the links expire %s, sooner than the %d s asked for: the connection %r signs with temporary "
            "credentials; give it an IAM user's keys (docs/iam.md)",
            lifetime.expires_at.isoformat(),
            settings.presign_expiry_seconds,
            settings.presign_conn_id,
        )
    outputs = manifest["outputs"]

    def optional(name: str) -> str | None:
        return signer.presign(outputs[name], lifetime, now) if name in outputs else None

    # The page lies in the compression output, beside the bundle and the tileset.
    index_signer = IndexSigner(s3, signer, lifetime, now, posixpath.dirname(outputs["viewer"]), settings.kms_key_id)
    lod = signed_lod_bundle(index_signer, outputs["lod"]) if "lod" in outputs else None
    tileset = signed_tileset(index_signer, outputs["tileset"]) if "tileset" in outputs else None
    sog = signer.presign(outputs["sog"], lifetime, now)
    return ResultLinks(
        sog=sog,
        ply=signer.presign(outputs["ply"], lifetime, now),
        viewer=viewer_link(signer.presign(outputs["viewer"], lifetime, now), sog, lod),
        expires_at=lifetime.expires_at,
        expiry_certain=lifetime.certain,
        spz=optional("spz"),
        glb=optional("glb"),
        tileset=tileset,
        tile=optional("tile"),
    )


def compose_result_email(
    prepared: PreparedRun, manifest: Mapping[str, Any], settings: PipelineSettings, signer: LinkSigner, s3: Any
) -> OutgoingEmail:
    """The result email of a published run: figures, presigned links and the stills inline."""
    email = render_success_email(manifest, presigned_links(manifest, settings, signer, s3))
    return OutgoingEmail(
        to=prepared.submission.email,
        subject=email.subject,
        html_content=email.html,
        text_content=email.text,
        pictures={email.content_ids[name]: uri for name, uri in inline_stills(manifest["outputs"]).items()},
        delivery_record=DeliveryRecord.of(prepared.layout, RESULT_ENTRY),
    )


def compose_failure_email(
    params: Mapping[str, Any],
    run_id: str,
    prepared: PreparedRun | None,
    failure: Failure,
    settings: PipelineSettings,
    s3: Any,
) -> OutgoingEmail:
    """The email saying why the run failed, after recording a failed manifest for batch reprocessing.

    A run refused before it had a plan is told at the address its params give, if that address is
    usable; a failure already emailed about is not recorded again.
    """
    if prepared is not None:
        address: str | None = prepared.submission.email
        source: str | None = prepared.submission.source.name
        record: DeliveryRecord | None = DeliveryRecord.of(prepared.layout, failure_entry(failure.step))
    else:
        try:
            address = validate_email(str(params.get("email", "")))
        except SubmissionError:
            log.warning("run failed at %s, and its email address is not usable; no email will be sent", failure.step)
            address = None
        source, record = None, None
    if prepared is not None and record is not None and not email_sent(s3, record.layout, record.entry):
        record_failure(prepared, settings, s3, FailureRecord(failure.step, failure.code, failure.reason))
    email = render_failure_email(
        step=failure.step, code=failure.code, reason=failure.reason, run_id=run_id, source_name=source
    )
    log.info("%s failed (%s): %s", failure.step, failure.code, failure.reason)
    return OutgoingEmail(
        to=address,
        subject=email.subject,
        html_content=email.html,
        text_content=email.text,
        pictures={},
        delivery_record=record,
    )
