"""Recording events and staff actions: the `PaymentEvent` log and the `AuditEntry` trail."""

from __future__ import annotations

from typing import Any

from payments.models import AuditEntry, Merchant, Payment, PaymentEvent


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


def audit_record(
    *, actor: str, action: str, target: str, changes: dict[str, Any] | None = None
) -> AuditEntry:
    """Append one back-office action to the audit trail (admin, CLI and portal alike).

    Callers pass field names with old/new values in `changes`, never a secret or a key.
    """
    return AuditEntry.objects.create(
        actor=actor[:150], action=action, target=target[:200], changes=changes or {}
    )
