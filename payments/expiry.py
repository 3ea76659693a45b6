"""Expiry: pending payments past `PAYMENT_TTL` become `expired` and their postback is queued.

Run by beat (`payments.tasks.expire_stale_payments`). It lives beside the payment, not with
provider intake, because no provider takes part: the gateway decides on its own clock.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from payments.audit import event_record
from payments.delivery.outbox import delivery_enqueue
from payments.models import EventType, Payment, PaymentStatus
from payments.state import payment_transition

logger = logging.getLogger(__name__)


def payment_expire_stale(*, now: datetime | None = None, limit: int = 500) -> int:
    """Expire `pending` payments older than `PAYMENT_TTL` and queue `payment.expired`.

    Payments held for review are left for staff. Each payment is locked and re-checked,
    so a success postback racing the expiry wins or loses cleanly, never both.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.PAYMENT_TTL)
    ids = list(
        Payment.objects.filter(
            status=PaymentStatus.PENDING, created_at__lt=cutoff, needs_review=False
        ).values_list("pk", flat=True)[:limit]
    )
    expired = 0
    for pk in ids:
        with transaction.atomic():
            payment = (
                Payment.objects.select_for_update(of=("self",), skip_locked=True)
                .select_related("merchant")
                .filter(pk=pk, status=PaymentStatus.PENDING, needs_review=False)
                .first()
            )
            if payment is None:
                continue
            payment_transition(payment=payment, target=PaymentStatus.EXPIRED)
            event_record(type=EventType.PAYMENT_EXPIRED, payment=payment, payload={"reason": "ttl"})
            delivery_enqueue(payment=payment, event=EventType.PAYMENT_EXPIRED)
            expired += 1
    if expired:
        logger.info("expired %s stale payments", expired)
    return expired
