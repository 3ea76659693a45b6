"""Nothing stays half-made: `created` payments whose init request died are closed.

`payment_init` stores the payment (`created`), commits, then calls the provider. A web
process killed in between (a deploy, OOM, `kill -9`) leaves the row `created` with no one
to move it: expiry only looks at `pending`, and every retry of the merchant's `id` would
wait for a request that no longer exists. Past `created_grace()` (the longest a live init
request can spend on the provider: queue, connect and read timeouts, plus a margin) no
request is still working on it, so the reconciler (beat) closes it as `provider_error`
with the code `provider_interrupted`, through the status table, and records the event. A
retry of the same `id` then gets that definite answer at once (payments/services.py).

If the provider did make an invoice and the shopper paid, its verified postback still
credits the payment and flags it for review (payments/intake/services.py): the provider is
the authority on money that moved.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from payments.audit import event_record
from payments.models import EventType, Payment, PaymentStatus
from payments.state import payment_transition_unlocked

logger = logging.getLogger(__name__)

INTERRUPTED_CODE = "provider_interrupted"
INTERRUPTED_MESSAGE = (
    "The gateway stopped while it was asking the provider for an invoice; "
    "start a new payment with a new id."
)


def created_grace() -> timedelta:
    """How long a live init request can keep a payment `created` (then it is dead)."""
    return timedelta(
        seconds=settings.PROVIDER_QUEUE_TIMEOUT
        + settings.PROVIDER_CONNECT_TIMEOUT
        + settings.PROVIDER_READ_TIMEOUT
        + settings.INIT_RECONCILE_MARGIN
    )


def payment_created_is_abandoned(payment: Payment, *, now: datetime | None = None) -> bool:
    """Say whether no live request can still be working on this `created` payment."""
    now = now or timezone.now()
    return payment.status == PaymentStatus.CREATED and payment.created_at < now - created_grace()


def payment_close_interrupted(*, payment: Payment) -> bool:
    """Close an abandoned `created` payment as `provider_error`; return whether this call did.

    A conditional move (`created` only): a request or a postback that moved it meanwhile
    wins, and this does nothing.
    """
    with transaction.atomic():
        moved = payment_transition_unlocked(
            payment=payment,
            current=PaymentStatus.CREATED,
            target=PaymentStatus.PROVIDER_ERROR,
            provider_error_code=INTERRUPTED_CODE,
            provider_error_message=INTERRUPTED_MESSAGE,
        )
        if moved:
            event_record(
                type=EventType.PROVIDER_ERROR,
                payment=payment,
                payload={"code": INTERRUPTED_CODE, "reason": "init request interrupted"},
            )
    if moved:
        logger.warning("payment %s: init interrupted, closed as provider_error", payment.public_id)
    return moved


def payments_reconcile_created(*, now: datetime | None = None, limit: int = 500) -> int:
    """Close every abandoned `created` payment (beat); return how many were closed."""
    now = now or timezone.now()
    stale = Payment.objects.filter(
        status=PaymentStatus.CREATED, created_at__lt=now - created_grace()
    ).only("pk", "public_id", "status")[:limit]
    return sum(payment_close_interrupted(payment=payment) for payment in stale)
