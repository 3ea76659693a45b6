"""Reads: merchant-scoped payment queries for the API, the portal and the redirect views."""

from __future__ import annotations

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


def payment_get_for_merchant(*, merchant: Merchant, public_id: str) -> Payment | None:
    """Return one of the merchant's payments; another merchant's is None (so a 404)."""
    return payment_list(merchant=merchant).filter(public_id=public_id).first()


def payment_get_by_public_id(*, public_id: str) -> Payment | None:
    return Payment.objects.filter(public_id=public_id).first()
