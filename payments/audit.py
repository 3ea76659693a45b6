"""Recording events: the one way rows get into the append-only `PaymentEvent` log."""

from __future__ import annotations

from typing import Any

from payments.models import Merchant, Payment, PaymentEvent


def event_record(
    *,
    type: str,
    payment: Payment | None = None,
    merchant: Merchant | None = None,
    payload: dict[str, Any] | None = None,
) -> PaymentEvent:
    """Append one event; the payment's current status and provider are copied onto it.

    Payloads must never hold secrets, tokens, full e-mail addresses or card data: the
    log is exported to BigQuery as it is.
    """
    return PaymentEvent.objects.create(
        type=type,
        payment=payment,
        merchant=merchant or (payment.merchant if payment else None),
        status=payment.status if payment else "",
        provider=payment.provider if payment else "",
        payload=payload or {},
    )


def event_record_for(
    *, entry: dict, type: str, payload: dict[str, Any] | None = None
) -> PaymentEvent:
    """Append an event from a KV entry, so the redirect path needs no payment query."""
    return PaymentEvent.objects.create(
        type=type,
        payment_id=entry["pk"],
        merchant_id=entry["merchant_id"],
        status=entry["status"],
        provider=entry["provider"],
        payload=payload or {},
    )
