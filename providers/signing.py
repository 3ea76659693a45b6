"""HMAC helpers shared by the adapters that verify postbacks on their raw body."""

from __future__ import annotations

import hashlib
import hmac
import time

from providers.base import PostbackRejected

# A postback older (or newer) than this is refused as a possible replay.
TIMESTAMP_TOLERANCE_SECONDS = 300


def hmac_sha256_hex(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def require_secret(secret: str, provider: str) -> str:
    """Refuse every postback when the secret is not configured, rather than accept any."""
    if not secret:
        raise PostbackRejected(
            f"{provider} postback secret is not configured", code="not_configured"
        )
    return secret


def verify_hex_signature(*, secret: str, message: bytes, signature: str) -> None:
    """Compare in constant time; raise `PostbackRejected` on mismatch."""
    expected = hmac_sha256_hex(secret, message)
    given = signature.strip().removeprefix("sha256=")
    # compare_digest raises TypeError on non-ASCII text; a header decoded from Latin-1
    # bytes can be anything, and such a signature cannot match a hex digest anyway.
    if not given or not given.isascii() or not hmac.compare_digest(expected, given):
        raise PostbackRejected("signature does not match", code="invalid_signature")


def verify_timestamp(raw: str, *, now: float | None = None) -> None:
    """Refuse a missing, malformed or stale timestamp (unix seconds)."""
    try:
        if not raw.isascii():  # int() also reads Arabic-Indic and fullwidth digits
            raise ValueError(raw)
        sent = int(raw)
    except (AttributeError, TypeError, ValueError):
        raise PostbackRejected("missing or malformed timestamp", code="invalid_timestamp") from None
    current = time.time() if now is None else now
    if abs(current - sent) > TIMESTAMP_TOLERANCE_SECONDS:
        raise PostbackRejected("timestamp outside the tolerance window", code="stale_timestamp")


def lower_headers(headers: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}
