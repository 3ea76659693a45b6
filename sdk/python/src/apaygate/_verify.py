"""Postback verification (Standard Webhooks), done by the `standardwebhooks` library."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Union

from standardwebhooks import Webhook, WebhookVerificationError

from ._constants import PaymentStatus, PostbackEvent
from ._errors import PostbackVerificationError


@dataclass(frozen=True)
class Postback:
    """A verified merchant postback. Amounts are decimal strings, as sent."""

    event: Union[PostbackEvent, str]
    id: str
    payment_id: str
    status: Union[PaymentStatus, str]
    amount: str
    currency: str
    created_at: str
    updated_at: str
    webhook_id: str
    timestamp: datetime
    paid_amount: str | None = None
    paid_currency: str | None = None
    review_reason: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


def _enum_or_str(enum: type, value: str) -> Any:
    # A newer gateway may send a value this SDK does not name yet; keep it as a string.
    try:
        return enum(value)
    except ValueError:
        return value


SIGNATURE_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
# Standard Webhooks' tolerance: a postback signed longer ago (or ahead) than this is refused.
TIMESTAMP_TOLERANCE_SECONDS = 5 * 60


def _check_headers(lowered: Mapping[str, str]) -> None:
    """Refuse, in words, what the library would refuse with a terse or cryptic message."""
    missing = [name for name in SIGNATURE_HEADERS if not lowered.get(name)]
    if missing:
        raise PostbackVerificationError(
            f"missing header {', '.join(missing)}: pass the request's headers as received"
        )
    try:
        signed_at = int(lowered["webhook-timestamp"])
    except ValueError:
        raise PostbackVerificationError(
            f"malformed webhook-timestamp {lowered['webhook-timestamp'][:40]!r}: "
            "expected unix seconds"
        ) from None
    skew = datetime.now(tz=timezone.utc).timestamp() - signed_at
    if abs(skew) > TIMESTAMP_TOLERANCE_SECONDS:
        when = f"{int(skew)} s ago" if skew > 0 else f"{int(-skew)} s in the future"
        raise PostbackVerificationError(
            f"stale timestamp: signed {when}, more than {TIMESTAMP_TOLERANCE_SECONDS} s "
            "from this machine's clock (a replay, or a clock that is off)"
        )
    for item in lowered["webhook-signature"].split():
        version, _, value = item.partition(",")
        if version == "v1" and value:
            try:
                base64.b64decode(value, validate=True)
            except (ValueError, binascii.Error):
                continue
            return
    raise PostbackVerificationError(
        "malformed signature: webhook-signature holds no 'v1,<base64>' item"
    )


def verify_postback(
    *,
    body: bytes | str,
    headers: Mapping[str, str],
    secret: str | Iterable[str],
) -> Postback:
    """Verify a postback's signature and timestamp, and return the typed event.

    `body` is the raw request body, exactly as received. `headers` may use any case.
    `secret` is your `whsec_...` secret, or several while you rotate. Every `v1,`
    signature in `webhook-signature` is tried, the timestamp must be within five minutes,
    and signatures are compared in constant time. Raises `PostbackVerificationError`.
    """
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    secrets = [secret] if isinstance(secret, str) else list(secret)
    if not secrets:
        raise ValueError("verify_postback: a secret is required")
    if isinstance(body, (bytes, bytearray)):
        try:
            text = bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            # Standard Webhooks signs text: bytes that are not UTF-8 were not signed by us.
            raise PostbackVerificationError("body is not UTF-8 text") from None
    else:
        text = body
    _check_headers(lowered)
    webhooks = []
    for one in secrets:
        try:
            webhooks.append(Webhook(one))
        except Exception:  # the library's own errors (empty secret) and base64's
            raise PostbackVerificationError(
                "verify_postback: the secret is not a whsec_... secret (copy it whole from the "
                "portal's Developers page)"
            ) from None
    for webhook in webhooks:
        try:
            webhook.verify(text, lowered, json_parse=False)
            break
        except (WebhookVerificationError, ValueError, binascii.Error):
            continue
    else:
        count = len(lowered["webhook-signature"].split())
        raise PostbackVerificationError(
            f"no matching signature: none of the {count} signature(s) in webhook-signature "
            f"matches this body with the {len(webhooks)} secret(s) given (a wrong secret, or a "
            "body changed after it was signed: pass the raw body, not re-serialised JSON)"
        )
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise PostbackVerificationError("body is not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("event"), str):
        raise PostbackVerificationError("body has no event")
    return Postback(
        event=_enum_or_str(PostbackEvent, data["event"]),
        id=str(data.get("id") or ""),
        payment_id=str(data.get("paymentId", "")),
        status=_enum_or_str(PaymentStatus, str(data.get("status", ""))),
        amount=str(data.get("amount", "")),
        currency=str(data.get("currency", "")),
        created_at=str(data.get("createdAt", "")),
        updated_at=str(data.get("updatedAt", "")),
        paid_amount=data.get("paidAmount"),
        paid_currency=data.get("paidCurrency"),
        review_reason=data.get("reviewReason"),
        webhook_id=lowered["webhook-id"],
        # The library accepted it as a number ("1700000000.0" too): read it the same way.
        timestamp=datetime.fromtimestamp(int(float(lowered["webhook-timestamp"])), tz=timezone.utc),
        raw=data,
    )
