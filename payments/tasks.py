"""Celery tasks of the payment itself (not of a direction of traffic): expiry, reconciling.

Task names live in `payments/task_names.py`, beside beat's schedule's and the senders'.
"""

from __future__ import annotations

from celery import shared_task

from payments.expiry import payment_expire_stale
from payments.reconcile import payments_reconcile_created
from payments.task_names import EXPIRE_STALE_PAYMENTS, RECONCILE_CREATED_PAYMENTS


@shared_task(name=EXPIRE_STALE_PAYMENTS, ignore_result=True)
def expire_stale_payments() -> int:
    """Expire pending payments past PAYMENT_TTL and queue their postbacks."""
    return payment_expire_stale()


@shared_task(name=RECONCILE_CREATED_PAYMENTS, ignore_result=True)
def reconcile_created_payments() -> int:
    """Close payments left `created` by an init request that died."""
    return payments_reconcile_created()
