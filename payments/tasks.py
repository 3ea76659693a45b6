"""Celery tasks of the payment itself (not of a direction of traffic): expiry, reconciling.

Task names are short and stable (`payments.expire_stale`), not module paths, so moving
code never strands a message already in the broker.
"""

from __future__ import annotations

from celery import shared_task

from payments.expiry import payment_expire_stale
from payments.reconcile import payments_reconcile_created

EXPIRE_STALE_PAYMENTS = "payments.expire_stale"
RECONCILE_CREATED_PAYMENTS = "payments.reconcile_created"


@shared_task(name=EXPIRE_STALE_PAYMENTS, ignore_result=True)
def expire_stale_payments() -> int:
    """Expire pending payments past PAYMENT_TTL and queue their postbacks."""
    return payment_expire_stale()


@shared_task(name=RECONCILE_CREATED_PAYMENTS, ignore_result=True)
def reconcile_created_payments() -> int:
    """Close payments left `created` by an init request that died."""
    return payments_reconcile_created()
