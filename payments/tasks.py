"""Celery tasks of the payment itself (not of a direction of traffic): expiry.

Task names are short and stable (`payments.expire_stale`), not module paths, so moving
code never strands a message already in the broker.
"""

from __future__ import annotations

from celery import shared_task

from payments.expiry import payment_expire_stale

EXPIRE_STALE_PAYMENTS = "payments.expire_stale"


@shared_task(name=EXPIRE_STALE_PAYMENTS, ignore_result=True)
def expire_stale_payments() -> int:
    """Expire pending payments past PAYMENT_TTL and queue their postbacks."""
    return payment_expire_stale()
