"""Reads: merchant-scoped payment queries for the API, the portal and the redirect views."""

from __future__ import annotations

import re
from datetime import datetime

from django.db.models import Prefetch, QuerySet

from payments.models import Merchant, Payment, PostbackDelivery


def payment_list(
    *,
    merchant: Merchant,
    is_test: bool | None = None,
    reference: str | None = None,
    status: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
) -> QuerySet[Payment]:
    """Return the merchant's own payments, newest first, with their latest delivery."""
    qs = Payment.objects.filter(merchant=merchant)
    if is_test is not None:
        qs = qs.filter(is_test=is_test)
    if reference:
        qs = qs.filter(merchant_reference=reference)
    if status:
        qs = qs.filter(status=status)
    if created_after:
        qs = qs.filter(created_at__gte=created_after)
    if created_before:
        qs = qs.filter(created_at__lt=created_before)
    deliveries = PostbackDelivery.objects.order_by("-created_at")
    return qs.order_by("-created_at", "-pk").prefetch_related(
        Prefetch("deliveries", queryset=deliveries, to_attr="recent_deliveries")
    )


# Our ids are URL-safe tokens (`secrets.token_urlsafe` with a short prefix). Anything else
# cannot be one, and must not reach PostgreSQL: a NUL byte there is an error, not a miss.
_PUBLIC_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")


def public_id_is_well_formed(value: object) -> bool:
    """Say whether `value` could be a payment id at all (so a lookup is worth a query)."""
    return isinstance(value, str) and _PUBLIC_ID_RE.fullmatch(value) is not None


def payment_get_for_merchant(
    *, merchant: Merchant, public_id: str, is_test: bool
) -> Payment | None:
    """Return one of the merchant's payments in the token's mode; any other is None (a 404).

    Test and live are separate worlds, as at Stripe: a test token never sees a live
    payment and a live token never sees a test one.
    """
    if not public_id_is_well_formed(public_id):
        return None
    return payment_list(merchant=merchant, is_test=is_test).filter(public_id=public_id).first()


def payment_get_by_public_id(*, public_id: str) -> Payment | None:
    """Return the payment with this id, or None (also for what cannot be an id)."""
    if not public_id_is_well_formed(public_id):
        return None
    return Payment.objects.filter(public_id=public_id).first()
