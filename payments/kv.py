"""The KV (Django cache, Redis in production): what the redirect views need, by payment id.

The database is the source of truth; a miss here costs one indexed query. Entries live
for `PAYMENT_TTL` and are dropped when the payment reaches a final state.
"""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache

from payments.models import Payment


def _key(public_id: str) -> str:
    return f"payment:{public_id}"


def redirect_entry(payment: Payment) -> dict:
    return {
        "pk": payment.pk,
        "merchant_id": payment.merchant_id,
        "provider": payment.provider,
        "status": payment.status,
        "provider_url": payment.provider_url,
        "success_url": payment.success_url,
        "error_url": payment.error_url,
    }


def kv_store(payment: Payment) -> None:
    cache.set(_key(payment.public_id), redirect_entry(payment), timeout=settings.PAYMENT_TTL)


def kv_get(public_id: str) -> dict | None:
    return cache.get(_key(public_id))


def kv_forget(public_id: str) -> None:
    """Drop the entry; call after any status change so redirects read the new status."""
    cache.delete(_key(public_id))


def kv_raw_key(public_id: str) -> str:
    """The entry's full Redis key (cache prefix and version), for the async fast lane."""
    return cache.make_key(_key(public_id))
