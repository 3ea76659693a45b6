"""The payment state machine (DESIGN "Statuses"), in one table.

`created` → `pending` → `succeeded` | `failed` | `expired`; `created` → `provider_error`.
Final states never change again. Callers hold a row lock (`select_for_update`) while they
check and apply a transition, so two postbacks racing for one payment cannot both win.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from payments.kv import kv_forget
from payments.models import FINAL_STATUSES, Payment, PaymentStatus

S = PaymentStatus

ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    S.CREATED: frozenset({S.PENDING, S.PROVIDER_ERROR}),
    S.PENDING: frozenset({S.SUCCEEDED, S.FAILED, S.EXPIRED}),
    S.SUCCEEDED: frozenset(),
    S.FAILED: frozenset(),
    S.EXPIRED: frozenset(),
    S.PROVIDER_ERROR: frozenset(),
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


def payment_transition(*, payment: Payment, target: str) -> Payment:
    """Move a locked payment to `target` and save it; refuse what the machine forbids.

    The caller must hold the row lock: this function reads `payment.status` as the truth.
    """
    if not transition_allowed(current=payment.status, target=target):
        raise IllegalTransition(payment.status, target)
    now = timezone.now()
    payment.status = target
    fields = ["status", "updated_at"]
    if target in FINAL_STATUSES:
        payment.finalized_at = now
        fields.append("finalized_at")
    payment.save(update_fields=fields)
    # The KV copy carries the status the redirect views act on: drop it once the change
    # is committed, so /integration/pay never sends a shopper to a closed invoice.
    # kv_forget never raises (a failed drop is retried, see payments/kv.py); `robust` is
    # the second guard: a failing hook must not make Django skip the ones after it, such
    # as the one that hands the postback to a worker.
    public_id = payment.public_id
    transaction.on_commit(lambda: kv_forget(public_id), robust=True)
    return payment
