"""Server-side encryption arguments for every S3 object splatflow writes."""

from __future__ import annotations


def encryption_args(kms_key_id: str | None) -> dict[str, str]:
    """SSE-KMS with the given key, else SSE-S3: nothing is ever stored unencrypted."""
    if kms_key_id:
        return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_id}
    return {"ServerSideEncryption": "AES256"}
