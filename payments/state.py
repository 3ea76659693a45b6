"""The payment state machine and its vocabulary, defined once (DESIGN "Statuses").

`created` → `pending` → `succeeded` | `failed` | `expired`; `created` → `provider_error`
→ `succeeded` (a verified paid postback: the provider is the authority on money that moved,
even when our init request died before it could record the invoice). Final states never
change again. Every status change goes through this module: a locked
transition (`payment_transition`, the caller holds `select_for_update`) for postbacks and
expiry, or a conditional one (`payment_transition_unlocked`, an `UPDATE … WHERE status =`
whose row count decides) for init-payment, which must not hold a lock across the provider
call.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import DatabaseError, transaction
from django.utils import timezone

from payments import sql
from payments.kv import kv_forget
from payments.models import EventType, Payment, PaymentEvent, PaymentStatus

S = PaymentStatus

ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    S.CREATED: frozenset({S.PENDING, S.PROVIDER_ERROR}),
    S.PENDING: frozenset({S.SUCCEEDED, S.FAILED, S.EXPIRED}),
    S.SUCCEEDED: frozenset(),
    S.FAILED: frozenset(),
    S.EXPIRED: frozenset(),
    # Credited, and flagged for review, when the provider reports it paid after all: an
    # interrupted init (payments/reconcile.py) may have made an invoice the shopper paid.
    S.PROVIDER_ERROR: frozenset({S.SUCCEEDED}),
}

# Outcomes that never change again, and that a merchant gets a postback for.
FINAL_STATUSES: frozenset[str] = frozenset({S.SUCCEEDED, S.FAILED, S.EXPIRED})
# Nothing more for a shopper to do: the provider's page is no longer worth showing, and the
# waiting page forwards the shopper on. `provider_error` is closed but not final in the
# postback sense: no invoice was ever made, so there is nothing to tell the merchant later.
CLOSED_STATUSES: frozenset[str] = FINAL_STATUSES | {S.PROVIDER_ERROR}

# The postback event (and event-log type) each final status sends.
STATUS_EVENT: dict[str, str] = {
    S.SUCCEEDED: EventType.PAYMENT_SUCCEEDED,
    S.FAILED: EventType.PAYMENT_FAILED,
    S.EXPIRED: EventType.PAYMENT_EXPIRED,
}

# A provider outcome (providers.base.ProviderEvent.outcome) to the status it leads to.
OUTCOME_STATUS: dict[str, str] = {
    "succeeded": S.SUCCEEDED,
    "failed": S.FAILED,
    "expired": S.EXPIRED,
}


class IllegalTransition(Exception):
    """A status change the state machine does not allow."""

    def __init__(self, current: str, target: str):
        super().__init__(f"{current} -> {target} is not allowed")
        self.current = current
        self.target = target


def transition_allowed(*, current: str, target: str) -> bool:
    return target in ALLOWED_TRANSITIONS.get(current, frozenset())


def status_is_final(status: str) -> bool:
    return status in FINAL_STATUSES


def payment_transition(*, payment: Payment, target: str, also_save: Iterable[str] = ()) -> Payment:
    """Move a locked payment to `target` and save it; refuse what the machine forbids.

    The caller must hold the row lock: this function reads `payment.status` as the truth.
    `also_save` names fields the caller has set on the payment (a paid amount), written in
    the same UPDATE.
    """
    current = payment.status
    if not transition_allowed(current=current, target=target):
        raise IllegalTransition(current, target)
    now = timezone.now()
    payment.status = target
    fields = ["status", "updated_at", *also_save]
    if target in FINAL_STATUSES:
        payment.finalized_at = now
        fields.append("finalized_at")
    payment.updated_at = now
    # One UPDATE written once (payments/sql.py): the ORM's save() compiled it per call.
    changed = sql.update_where(
        Payment, where={"id": payment.pk}, values={name: getattr(payment, name) for name in fields}
    )
    if not changed:  # as save(update_fields=...) does for a row that is gone
        raise DatabaseError("Save with update_fields did not affect any rows.")
    _forget_after_commit(payment.public_id, previous=current)
    return payment


def payment_transition_unlocked(
    *,
    payment: Payment,
    current: str,
    target: str,
    event: PaymentEvent | None = None,
    **fields: object,
) -> bool:
    """Move the payment from `current` to `target` only if it is still `current`.

    A conditional UPDATE instead of a row lock: init-payment calls the provider between
    storing the payment and moving it, and a lock must not be held across the network.
    Returns whether this call made the move (a verified postback may have overtaken it).
    `event` (built with `event_build`) is recorded with the move, in the same statement
    (`sql.update_with_child`), only if the move is made; it carries the new status.
    """
    if not transition_allowed(current=current, target=target):
        raise IllegalTransition(current, target)
    now = timezone.now()
    where = {"id": payment.pk, "status": current}
    values = {"status": target, "updated_at": now, **fields}
    if event is None:
        moved = sql.update_where(Payment, where=where, values=values)
    else:
        event.status = target
        moved = sql.update_with_child(
            Payment, where=where, values=values, child=event, link="payment"
        )
    if moved:
        payment.status, payment.updated_at = target, now
        for name, value in fields.items():
            setattr(payment, name, value)
        _forget_after_commit(payment.public_id, previous=current)
    return bool(moved)


def _forget_after_commit(public_id: str, *, previous: str) -> None:
    # A `created` payment has no KV entry to drop: entries are written for pending
    # payments only (payments/kv.py), so its first move costs no Redis round trip.
    if previous == S.CREATED:
        return
    # The KV copy carries the status the redirect views act on: drop it once the change
    # is committed, so /integration/pay never sends a shopper to a closed invoice.
    # kv_forget never raises (a failed drop is retried, see payments/kv.py); `robust` is
    # the second guard: a failing hook must not make Django skip the ones after it, such
    # as the one that hands the postback to a worker.
    transaction.on_commit(lambda: kv_forget(public_id), robust=True)
