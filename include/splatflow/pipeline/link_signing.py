"""How long an emailed link really lives, and the signing of it.

A presigned URL is checked against the credentials that signed it: "If you created a presigned URL
using a temporary token, then the URL expires when the token expires, even if the URL was created
with a later expiration time" (Amazon S3 User Guide, "Sharing objects with presigned URLs";
IAM user keys with SigV4 allow up to 7 days). On MWAA, ECS, EKS or any worker with a role, the
worker's own credentials last hours. So the links are signed by a connection meant for it
(``SPLATFLOW_PRESIGN_CONN_ID``: an IAM user's keys allowed only ``s3:GetObject`` on the results,
docs/iam/presign-policy.json), and the email states the lifetime the signing credentials allow,
never a longer one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.credentials import Credentials, RefreshableCredentials


@dataclass(frozen=True)
class LinkLifetime:
    """When the links stop working, and whether that is known or only an upper bound."""

    expires_at: datetime
    certain: bool
    """False when temporary credentials of unknown expiry signed: the links may stop sooner."""


def credentials_expiry(credentials: Credentials | None) -> datetime | None:
    """When temporary credentials expire; None for long-lived keys or an unknown expiry.

    botocore's refreshable credentials (assumed roles, container and instance roles, SSO) keep their
    expiry; static keys with a session token are temporary too but say nothing of when they end.
    """
    if isinstance(credentials, RefreshableCredentials):
        expiry: datetime = credentials._expiry_time  # no public accessor; the refresh logic reads it
        return expiry.astimezone(UTC) if expiry is not None else None
    return None


def is_temporary(credentials: Credentials | None) -> bool:
    """Temporary credentials carry a session token (STS); an IAM user's access keys do not.

    Refreshable credentials are temporary by nature, and are not read here: reading them would
    refresh expired ones, an STS call made only to learn what is already known.
    """
    if isinstance(credentials, RefreshableCredentials):
        return True
    return credentials is not None and bool(credentials.token)


def link_lifetime(requested_seconds: int, credentials: Credentials | None, now: datetime) -> LinkLifetime:
    """The requested lifetime, cut to the signing credentials' own expiry where that comes first."""
    requested = now + timedelta(seconds=requested_seconds)
    if not is_temporary(credentials):
        return LinkLifetime(requested, certain=True)
    expiry = credentials_expiry(credentials)
    if expiry is None:
        return LinkLifetime(requested, certain=False)
    return LinkLifetime(min(requested, max(now, expiry)), certain=True)


@dataclass(frozen=True)
class LinkSigner:
    """An S3 client and the credentials it signs with, so the links and their stated life agree."""

    s3: Any
    credentials: Credentials | None

    def lifetime(self, requested_seconds: int, now: datetime) -> LinkLifetime:
        return link_lifetime(requested_seconds, self.credentials, now)

    def presign(self, uri: str, lifetime: LinkLifetime, now: datetime) -> str:
        """A GET link to ``s3://bucket/key`` that expires with ``lifetime`` (at least one second)."""
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        seconds = max(1, int((lifetime.expires_at - now).total_seconds()))
        url: str = self.s3.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=seconds
        )
        return url
