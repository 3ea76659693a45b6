"""Celery tasks for postbacks and expiry: thin wrappers that call services.

Retries are not Celery's business here: each delivery keeps its own schedule in the
database, and `dispatch_due_deliveries` (beat, every couple of seconds) re-queues whatever
is due, so a lost message or a dead worker only delays a postback.
"""

from __future__ import annotations

from celery import shared_task

from .deliveries import deliveries_dispatch_due, delivery_attempt
from .postbacks import payment_expire_stale


@shared_task(name="payments.tasks.deliver_postback", ignore_result=True)
def deliver_postback(delivery_id: int) -> None:
    """Make one attempt of one merchant postback (a no-op if it is not due)."""
    delivery_attempt(delivery_id=delivery_id)


@shared_task(name="payments.tasks.dispatch_due_deliveries", ignore_result=True)
def dispatch_due_deliveries() -> int:
    """Queue every due postback delivery (claimed with SKIP LOCKED)."""
    return deliveries_dispatch_due()


@shared_task(name="payments.tasks.expire_stale_payments", ignore_result=True)
def expire_stale_payments() -> int:
    """Expire pending payments past PAYMENT_TTL and queue their postbacks."""
    return payment_expire_stale()
