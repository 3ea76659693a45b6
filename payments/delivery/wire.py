"""The postback wire format: payload, Standard Webhooks signature, and retry timing.

Pure functions (no database, no network), so the format merchants code against is in
one small module; `payments/delivery/outbox.py` stores, schedules and sends.
"""

from __future__ import annotations

import json
import random
import secrets
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from django.conf import settings
from django.utils import timezone
from standardwebhooks import Webhook

from payments.currencies import amount_format
from payments.models import Merchant, Payment, PostbackEvent

# Retry-After is honoured, but a merchant cannot park a delivery for longer than this.
MAX_RETRY_AFTER_SECONDS = 24 * 3600
# The order merchants read the payload in (PostgreSQL's jsonb does not keep key order).
PAYLOAD_KEYS = (
    "event",
    "id",
    "paymentId",
    "status",
    "amount",
    "currency",
    "paidAmount",
    "paidCurrency",
    "reviewReason",
    "createdAt",
    "updatedAt",
)


TEST_EVENT = PostbackEvent.POSTBACK_TEST.value


def iso_timestamp(value: datetime) -> str:
    """Format like DRF does for the API, so both read the same."""
    text = value.astimezone(UTC).isoformat()
    return text.removesuffix("+00:00") + "Z"


def delivery_payload(*, payment: Payment, event: str) -> dict:
    """Build the body DESIGN "Merchant postbacks" promises, from the payment as it is now."""
    payload = {
        "event": event,
        "id": payment.merchant_reference,
        "paymentId": payment.public_id,
        "status": payment.status,
        "amount": amount_format(payment.amount, payment.currency),
        "currency": payment.currency,
        "createdAt": iso_timestamp(payment.created_at),
        "updatedAt": iso_timestamp(payment.updated_at),
    }
    if payment.needs_review and payment.paid_amount is not None:
        # A payment held for review: the merchant learns what was actually paid.
        currency = payment.paid_currency or payment.currency
        payload["paidAmount"] = amount_format(payment.paid_amount, currency)
        payload["paidCurrency"] = currency
        payload["reviewReason"] = payment.review_reason
    return payload


def payload_body(payload: dict) -> str:
    ordered = {key: payload[key] for key in PAYLOAD_KEYS if key in payload}
    ordered.update({k: v for k, v in payload.items() if k not in ordered})
    return json.dumps(ordered, separators=(",", ":"), ensure_ascii=False)


def merchant_signing_secrets(merchant: Merchant, *, now: datetime | None = None) -> list[str]:
    """Return the secrets that sign right now: the current one, and the previous one
    while a rotation's overlap lasts."""
    now = now or timezone.now()
    secrets_ = [merchant.postback_secret]
    expires = merchant.previous_secret_expires_at
    if merchant.previous_postback_secret and expires is not None and expires > now:
        secrets_.append(merchant.previous_postback_secret)
    return secrets_


def delivery_headers(
    *, merchant: Merchant, webhook_id: str, body: str, at: datetime | None = None
) -> dict[str, str]:
    """Return Standard Webhooks headers; one `v1,` signature per active secret."""
    at = at or timezone.now()
    at = at.replace(microsecond=0)
    signatures = [
        Webhook(secret).sign(webhook_id, at, body) for secret in merchant_signing_secrets(merchant)
    ]
    return {
        "Content-Type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": " ".join(signatures),
    }


def webhook_id_generate() -> str:
    return "msg_" + secrets.token_urlsafe(18)


# --- retry timing ----------------------------------------------------------------------


def retry_delay_seconds(*, attempts_made: int, retry_after: float | None = None) -> float | None:
    """Return the wait before the next try after `attempts_made` failed ones, or None to stop.

    `POSTBACK_RETRY_SCHEDULE[n]` is the wait before try n+1 (index 0 is the first, sent
    at once), so the list's length is the number of tries. Jitter spreads a merchant's
    recovery burst; Retry-After (429/503) can only lengthen the wait, up to a day.
    """
    schedule = settings.POSTBACK_RETRY_SCHEDULE
    if attempts_made >= len(schedule):
        return None
    base = float(schedule[attempts_made])
    jitter = settings.POSTBACK_RETRY_JITTER
    delay = base * (1 + random.uniform(-jitter, jitter)) if jitter else base
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER_SECONDS))
    return max(delay, 0.0)


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """Read a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or timezone.now())).total_seconds(), 0.0)
