"""Recording events and staff actions: the `PaymentEvent` log and the `AuditEntry` trail."""

from __future__ import annotations

from typing import Any

from payments import sql
from payments.models import AuditEntry, Merchant, Payment, PaymentEvent


def event_build(
    *,
    type: str,
    payment: Payment | None = None,
    merchant: Merchant | None = None,
    payload: dict[str, Any] | None = None,
) -> PaymentEvent:
    """Build one event, unsaved, with the payment's status and provider as they are now.

    For a service that records several events in one request: it builds each at its
    moment (so each carries the status of that moment) and writes them together with
    `events_record`, one INSERT instead of one per event.
    """
    return PaymentEvent(
        type=type,
        payment=payment,
        # By id: the payment's merchant row need not be loaded to be referred to.
        merchant_id=merchant.pk if merchant else getattr(payment, "merchant_id", None),
        status=payment.status if payment else "",
        provider=payment.provider if payment else "",
        payload=payload or {},
    )


def events_record(events: list[PaymentEvent]) -> list[PaymentEvent]:
    """Append events built with `event_build`, in their order, in one INSERT."""
    sql.insert(events)  # one INSERT written once (payments/sql.py), not compiled per call
    return events


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
    event = event_build(type=type, payment=payment, merchant=merchant, payload=payload)
    sql.insert([event])
    return event


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
