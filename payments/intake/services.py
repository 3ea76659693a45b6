"""Provider postbacks (provider -> us): verify, map, apply under a lock, relay once.

The order matters and is the point of this module:
1. the adapter verifies the raw body (signature, timestamp) before anything is read;
2. the payment is found by our own id and locked (`select_for_update`);
3. a repeat of an event already seen (same provider event id, or the same body) is
   recorded and answered 200 with no effect, so providers stop retrying and merchants
   get one postback;
4. the state machine decides; a paid amount or currency that differs from the invoice is
   held for staff instead of applied; a late postback that contradicts a final state is
   stored and flagged; a paid postback for a payment we never finished making (`created`,
   `provider_error`) is credited and flagged for review (the money moved);
5. the merchant postback's outbox row is written in the same transaction as the change.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, transaction

from payments import sql
from payments.audit import event_build, event_record, events_record
from payments.currencies import currency_lookup
from payments.delivery.outbox import delivery_enqueue
from payments.intake.metrics import unverified_postback_count
from payments.models import EventType, Merchant, Payment, PaymentEvent, PaymentStatus
from payments.state import OUTCOME_STATUS, STATUS_EVENT, payment_transition, transition_allowed
from providers.base import PostbackRejected, ProviderEvent, RawPostback
from providers.registry import PROVIDERS, get_provider

logger = logging.getLogger(__name__)

# Codes the adapters raise only after the signature checked out (see providers/parsing.py);
# every other rejection is anyone's traffic.
VERIFIED_REJECTIONS = {"malformed", "invalid_amount"}


@dataclass(frozen=True)
class IntakeResult:
    """What the intake view answers: an HTTP status and a machine code."""

    http_status: int
    code: str
    payment_id: str = ""

    message: str = ""

    @property
    def body(self) -> dict:
        ok = self.http_status == 200 and not self.message
        body = {"status": "success" if ok else "error", "code": self.code}
        if self.message:
            body["message"] = self.message
        if self.payment_id:
            body["paymentId"] = self.payment_id
        return body


def _dedupe_key(event: ProviderEvent, raw: RawPostback) -> str:
    """Identify one provider event: its own id when it sends one, else the exact body."""
    if event.event_id:
        return "event:" + event.event_id[:200]
    return "body:" + hashlib.sha256(raw.body).hexdigest()


def _amount_mismatch(payment: Payment, event: ProviderEvent) -> str:
    """Say why what was paid differs from what was billed, or return "" when it matches.

    The provider bills `provider_amount`/`provider_currency` when it converted (Tele bills
    TUSD), else the payment's own amount and currency. A postback without an amount is
    taken as "paid in full" (the provider reports the invoice, not a transfer).
    """
    billed_amount = (
        payment.provider_amount if payment.provider_amount is not None else payment.amount
    )
    billed_currency = payment.provider_currency or payment.currency
    if event.paid_currency:
        paid = currency_lookup(event.paid_currency)
        billed = currency_lookup(billed_currency)
        paid_code = paid.code if paid else event.paid_currency.upper()
        billed_code = billed.code if billed else billed_currency.upper()
        if paid_code != billed_code:
            return f"paid in {paid_code}, billed in {billed_code}"
    if event.paid_amount is not None and Decimal(event.paid_amount) != Decimal(billed_amount):
        return f"paid {event.paid_amount}, billed {billed_amount.normalize()}"
    return ""


def _payment_locked(*, public_id: str, provider: str) -> Payment | None:
    """The payment (and its merchant), its row locked until the transaction ends.

    One SELECT ... FOR UPDATE OF the payment, written once (payments/sql.py): profiled
    under intake load, the ORM's compiled `select_for_update().select_related().first()`
    was a quarter of the intake's CPU.
    """
    features = connection.features
    lock = ""
    if features.has_select_for_update:
        lock = " FOR UPDATE OF p" if features.has_select_for_update_of else " FOR UPDATE"
    statement = (
        f"SELECT {sql.select_list(Payment, 'p')}, {sql.select_list(Merchant, 'm')}"  # noqa: S608
        f" FROM {sql.table(Payment)} p INNER JOIN {sql.table(Merchant)} m"
        f" ON m.id = p.merchant_id WHERE p.public_id = %s AND p.provider = %s{lock}"
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, [public_id, provider])
        row = cursor.fetchone()
    if row is None:
        return None
    split = sql.column_count(Payment)
    payment = sql.instance_from_row(Payment, row[:split])
    payment.merchant = sql.instance_from_row(Merchant, row[split:])
    return payment


def _postback_seen(payment: Payment, key: str) -> bool:
    """Whether this postback (by its dedupe key) was already received for the payment.

    Written once (payments/sql.py) like the lock: the ORM's compiled `filter(...).exists()`
    with its JSON key lookup was a quarter of the intake's CPU under load. It stays a
    statement of its own, run after the lock is held, not a subquery of the locking
    SELECT: under READ COMMITTED a subquery reads the snapshot taken before the statement
    waited for the lock, so it would miss the event of the identical postback that held
    the lock, and both would be applied.
    """
    statement = (
        f"SELECT 1 FROM {sql.table(PaymentEvent)}"  # noqa: S608 (identifiers from the model)
        f" WHERE {sql.column(PaymentEvent, 'payment')} = %s"
        f" AND {sql.column(PaymentEvent, 'type')} = %s"
        f" AND {sql.column(PaymentEvent, 'payload')} ->> 'dedupe' = %s LIMIT 1"
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, [payment.pk, EventType.POSTBACK_RECEIVED.value, key])
        return cursor.fetchone() is not None


def _flag(payment: Payment, reason: str, *, also_save: list[str]) -> None:
    payment.needs_review = True
    payment.review_reason = reason[:500]
    payment.save(update_fields=["needs_review", "review_reason", "updated_at", *also_save])


def _flag_conflict(payment: Payment, reason: str, summary: dict, events: list) -> None:
    """Flag a postback that contradicts the payment for staff, and record it as a conflict."""
    _flag(payment, reason, also_save=[])
    events.append(
        event_build(
            type=EventType.POSTBACK_CONFLICT, payment=payment, payload={**summary, "reason": reason}
        )
    )


def postback_receive(*, provider_key: str, raw: RawPostback) -> IntakeResult:
    """Verify and apply one provider postback; every path leaves an event behind."""
    if provider_key not in PROVIDERS:
        return IntakeResult(404, "unknown_provider", message="No such provider.")
    try:
        event = get_provider(provider_key).parse_postback(raw)
    except PostbackRejected as exc:
        if exc.code not in VERIFIED_REJECTIONS:
            unverified_postback_count(
                provider=provider_key, code=exc.code, body_bytes=len(raw.body)
            )
            return IntakeResult(400, exc.code, message="The postback could not be verified.")
        # Well-signed but unusable: the provider's own bug, so keep a trace for staff
        # (no secrets and no body), and answer 200: the same body sent again would be
        # refused again, and providers retry every non-2xx answer for days.
        event_record(
            type=EventType.POSTBACK_REJECTED,
            payload={
                "provider": provider_key,
                "code": exc.code,
                "reason": exc.message[:200],
                "bodySha256": hashlib.sha256(raw.body).hexdigest(),
                "bodyBytes": len(raw.body),
            },
        )
        logger.warning("%s signed postback refused: %s", provider_key, exc.code)
        return IntakeResult(200, exc.code, message=f"Refused: {exc.message[:200]}")
    return _postback_apply(provider_key=provider_key, event=event, raw=raw)


def _postback_apply(*, provider_key: str, event: ProviderEvent, raw: RawPostback) -> IntakeResult:
    key = _dedupe_key(event, raw)
    summary = {
        "provider": provider_key,
        "dedupe": key,
        "outcome": event.outcome,
        "providerReference": event.provider_reference[:255],
        "paidAmount": str(event.paid_amount) if event.paid_amount is not None else None,
        "paidCurrency": event.paid_currency[:10],
    }
    with transaction.atomic():
        payment = _payment_locked(public_id=event.payment_id, provider=provider_key)
        if payment is None:
            # Well-signed but not ours (or another provider's): answer 200 so the
            # provider stops retrying, and keep a trace for staff.
            event_record(
                type=EventType.POSTBACK_RECEIVED,
                payload={
                    **summary,
                    "paymentId": event.payment_id[:64],
                    "result": "unknown_payment",
                },
            )
            return IntakeResult(200, "unknown_payment")
        if _postback_seen(payment, key):
            event_record(type=EventType.POSTBACK_DUPLICATE, payment=payment, payload=summary)
            return IntakeResult(200, "duplicate", payment.public_id)
        # The events of this postback are built as they happen (each with the status of
        # its moment) and written together at the end: one INSERT.
        events = [event_build(type=EventType.POSTBACK_RECEIVED, payment=payment, payload=summary)]
        code = _postback_decide(payment=payment, event=event, summary=summary, events=events)
        events_record(events)
    logger.info("%s postback for %s: %s", provider_key, payment.public_id, code)
    return IntakeResult(200, code, payment.public_id)


def _postback_decide(
    *, payment: Payment, event: ProviderEvent, summary: dict, events: list[PaymentEvent]
) -> str:
    """Apply a verified, first-seen postback to a locked payment; return what was done.

    The events to record are appended to `events` (the caller writes them).
    """
    target = OUTCOME_STATUS.get(event.outcome)
    if target is None:
        return "no_change"  # "pending" and the like: informational
    if (
        payment.provider_reference
        and event.provider_reference
        and event.provider_reference != payment.provider_reference
    ):
        _flag_conflict(
            payment, "postback reference does not match the invoice reference", summary, events
        )
        return "flagged_reference_mismatch"
    if payment.status == target:
        # The same outcome again under a new provider event id: nothing new to tell.
        events.append(
            event_build(type=EventType.POSTBACK_DUPLICATE, payment=payment, payload=summary)
        )
        return "duplicate"
    # Paid while we had not finished making the payment (its init request died, or this
    # postback overtook our own write): credit it, and let staff look.
    unfinished = f"paid while the payment was {payment.status}"
    credit_unfinished = target == PaymentStatus.SUCCEEDED and payment.status in (
        PaymentStatus.CREATED,
        PaymentStatus.PROVIDER_ERROR,
    )
    if payment.status == PaymentStatus.CREATED and transition_allowed(
        current=payment.status, target=PaymentStatus.PENDING
    ):
        # The postback overtook our own "invoice created" write; the invoice exists.
        payment_transition(payment=payment, target=PaymentStatus.PENDING)
    if not transition_allowed(current=payment.status, target=target):
        reason = f"late {event.outcome} postback after the payment was {payment.status}"
        _flag_conflict(payment, reason, summary, events)
        return "conflict_flagged"
    # What was paid is written with the status (or the flag) below, in one UPDATE.
    paid_fields: list[str] = []
    if event.paid_amount is not None:
        payment.paid_amount = event.paid_amount
        payment.paid_currency = (event.paid_currency or "")[:10]
        paid_fields = ["paid_amount", "paid_currency"]
    if target == PaymentStatus.SUCCEEDED:
        mismatch = _amount_mismatch(payment, event)
        if mismatch:
            _flag(payment, f"amount/currency mismatch: {mismatch}", also_save=paid_fields)
            events.append(
                event_build(
                    type=EventType.PAYMENT_FLAGGED,
                    payment=payment,
                    payload={**summary, "reason": mismatch},
                )
            )
            delivery_enqueue(payment=payment, event=EventType.PAYMENT_FLAGGED)
            return "flagged_amount_mismatch"
    if credit_unfinished:
        payment.needs_review = True
        payment.review_reason = unfinished
        paid_fields += ["needs_review", "review_reason"]
        events.append(
            event_build(
                type=EventType.PAYMENT_FLAGGED,
                payment=payment,
                payload={**summary, "reason": unfinished},
            )
        )
    payment_transition(payment=payment, target=target, also_save=paid_fields)
    event_type = STATUS_EVENT[target]
    events.append(
        event_build(type=event_type, payment=payment, payload={"provider": payment.provider})
    )
    delivery_enqueue(payment=payment, event=event_type)
    return "applied_flagged" if credit_unfinished else "applied"
