"""Postback verification (Standard Webhooks), done by the `standardwebhooks` library."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Union

from standardwebhooks import Webhook, WebhookVerificationError
from standardwebhooks.webhooks import EmptyWebhookSecretError

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
    try:
        text = body.decode("utf-8") if isinstance(body, (bytes, bytearray)) else body
    except UnicodeDecodeError:
        # Standard Webhooks signs text: bytes that are not UTF-8 carry no valid signature.
        raise PostbackVerificationError("body is not UTF-8") from None
    last: Exception | None = None
    for one in secrets:
        try:
            Webhook(one).verify(text, lowered, json_parse=False)
            break
        # ValueError covers bad base64 (binascii.Error), a malformed signature list and
        # text that cannot be encoded; an empty secret is refused, not a crash.
        except (WebhookVerificationError, EmptyWebhookSecretError, ValueError) as exc:
            last = exc
    else:
        raise PostbackVerificationError(str(last) or "no signature matches") from None
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
