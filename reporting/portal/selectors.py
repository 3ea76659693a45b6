"""Reads for the merchant portal. Every query here is scoped to one merchant.

The dashboard is built from two aggregate queries (payments grouped by day, status and
currency; deliveries grouped by status), so its cost grows with the number of days and
currencies shown, not with the number of payments: see bench/bench_portal.py.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, F, Prefetch, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from payments.models import (
    ApiToken,
    DeliveryAttempt,
    DeliveryStatus,
    Merchant,
    Payment,
    PaymentStatus,
    PostbackDelivery,
    PostbackEndpoint,
)
from reporting.models import PortalMembership

STAFF_PERMISSION = "payments.view_payment"


def portal_user_is_gateway_staff(*, user) -> bool:
    """Gateway staff may open every merchant's portal (the merchant switcher)."""
    return bool(user.is_active and user.is_staff and user.has_perm(STAFF_PERMISSION))


def portal_merchant_for_user(*, user, selected_merchant_id: int | None) -> Merchant | None:
    """Return the merchant whose portal this user sees, or None when they have none.

    A merchant user always gets their own merchant, whatever the session says; only
    gateway staff can pick one.
    """
    if not user.is_authenticated or not user.is_active:
        return None
    membership = PortalMembership.objects.select_related("merchant").filter(user=user).first()
    if membership is not None and not portal_user_is_gateway_staff(user=user):
        return membership.merchant
    if portal_user_is_gateway_staff(user=user):
        if selected_merchant_id:
            found = Merchant.objects.filter(pk=selected_merchant_id).first()
            if found:
                return found
        return membership.merchant if membership else None
    return None


def merchant_has_payments(*, merchant: Merchant, mode: str) -> bool:
    """Whether the merchant has any payment in `mode` ("live" or "test"), at any date."""
    return Payment.objects.filter(merchant=merchant, is_test=(mode == "test")).exists()


def merchant_has_live_payments(*, merchant: Merchant) -> bool:
    """Whether the merchant has taken any live payment yet (the portal's default mode)."""
    return merchant_has_payments(merchant=merchant, mode="live")


def _day_bounds(*, date_from: dt.date | None, date_to: dt.date | None) -> dict:
    """Turn inclusive local dates into a half-open datetime range on an indexed column."""
    bounds: dict = {}
    tz = timezone.get_current_timezone()
    if date_from:
        bounds["created_at__gte"] = dt.datetime.combine(date_from, dt.time.min, tzinfo=tz)
    if date_to:
        bounds["created_at__lt"] = dt.datetime.combine(
            date_to + dt.timedelta(days=1), dt.time.min, tzinfo=tz
        )
    return bounds


def payment_list(
    *,
    merchant: Merchant,
    q: str = "",
    status: str = "",
    currency: str = "",
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    mode: str = "live",
) -> QuerySet[Payment]:
    """Return the merchant's payments matching the portal filters, newest first.

    `q` matches a payment id or merchant id exactly, or part of the merchant id or the
    shopper's e-mail. The list page and the CSV export both call this, so they agree.
    """
    qs = Payment.objects.filter(merchant=merchant, is_test=(mode == "test"))
    if q:
        qs = qs.filter(
            Q(public_id=q)
            | Q(merchant_reference=q)
            | Q(merchant_reference__icontains=q)
            | Q(customer_email__icontains=q)
        )
    if status:
        qs = qs.filter(status=status)
    if currency:
        qs = qs.filter(currency=currency)
    qs = qs.filter(**_day_bounds(date_from=date_from, date_to=date_to))
    return qs.order_by("-created_at", "-id")


def payment_currencies(*, merchant: Merchant) -> list[str]:
    """Return the currencies this merchant has used, for the filter drop-down."""
    return list(
        Payment.objects.filter(merchant=merchant)
        .order_by()
        .values_list("currency", flat=True)
        .distinct()
    )


def payment_detail(*, merchant: Merchant, public_id: str) -> Payment | None:
    """Return one of the merchant's payments with its events, deliveries and attempts."""
    return (
        Payment.objects.filter(merchant=merchant, public_id=public_id)
        .prefetch_related(
            "events",
            Prefetch(
                "deliveries",
                queryset=PostbackDelivery.objects.order_by("created_at").prefetch_related(
                    Prefetch("attempts", queryset=DeliveryAttempt.objects.order_by("started_at"))
                ),
            ),
        )
        .first()
    )


def delivery_for_merchant(*, merchant: Merchant, public_id: str, delivery_id: int):
    """Return a delivery only when it belongs to one of this merchant's payments."""
    return (
        PostbackDelivery.objects.select_related("payment")
        .filter(pk=delivery_id, payment__public_id=public_id, payment__merchant=merchant)
        .first()
    )


@dataclass
class DayPoint:
    day: dt.date
    created: int = 0
    succeeded: int = 0


@dataclass
class CurrencyRow:
    currency: str
    count: int = 0
    succeeded: int = 0
    succeeded_amount: Decimal = Decimal(0)


@dataclass
class DashboardStats:
    """Everything the dashboard draws, already aggregated."""

    date_from: dt.date
    date_to: dt.date
    status: str
    days: list[DayPoint] = field(default_factory=list)
    by_status: dict[str, int] = field(default_factory=dict)
    by_currency: list[CurrencyRow] = field(default_factory=list)
    total: int = 0
    created_all: int = 0
    succeeded_all: int = 0
    deliveries: dict[str, int] = field(default_factory=dict)

    @property
    def conversion(self) -> float | None:
        """Succeeded / created over the range, whatever the status filter says."""
        return self.succeeded_all / self.created_all if self.created_all else None

    @property
    def delivery_success_rate(self) -> float | None:
        """Delivered / settled deliveries; pending ones are still being retried."""
        done = self.deliveries.get(DeliveryStatus.SUCCEEDED, 0) + self.deliveries.get(
            DeliveryStatus.FAILED, 0
        )
        return self.deliveries.get(DeliveryStatus.SUCCEEDED, 0) / done if done else None

    @property
    def deliveries_total(self) -> int:
        return sum(self.deliveries.values())


def dashboard_stats(
    *,
    merchant: Merchant,
    date_from: dt.date,
    date_to: dt.date,
    status: str = "",
    mode: str = "live",
) -> DashboardStats:
    """Aggregate the merchant's payments and postbacks over a date range, in SQL.

    One GROUP BY (day, status, currency) returns at most days x statuses x currencies
    rows; every chart is folded from those in Python. The status filter narrows the
    volume, status and currency charts but not the conversion, which needs all statuses.
    """
    bounds = _day_bounds(date_from=date_from, date_to=date_to)
    rows = (
        Payment.objects.filter(merchant=merchant, is_test=(mode == "test"), **bounds)
        .annotate(day=TruncDate("created_at"))
        .values("day", "status", "currency")
        .annotate(n=Count("id"), amount=Sum("amount"))
        .order_by()
    )
    stats = DashboardStats(date_from=date_from, date_to=date_to, status=status)
    days = {
        date_from + dt.timedelta(days=i): DayPoint(day=date_from + dt.timedelta(days=i))
        for i in range((date_to - date_from).days + 1)
    }
    by_status: dict[str, int] = defaultdict(int)
    by_currency: dict[str, CurrencyRow] = {}
    for row in rows:
        succeeded = row["status"] == PaymentStatus.SUCCEEDED
        stats.created_all += row["n"]
        if succeeded:
            stats.succeeded_all += row["n"]
        if status and row["status"] != status:
            continue
        point = days.get(row["day"])
        if point is not None:
            point.created += row["n"]
            if succeeded:
                point.succeeded += row["n"]
        by_status[row["status"]] += row["n"]
        cur = by_currency.setdefault(row["currency"], CurrencyRow(currency=row["currency"]))
        cur.count += row["n"]
        if succeeded:
            cur.succeeded += row["n"]
            cur.succeeded_amount += row["amount"] or Decimal(0)
        stats.total += row["n"]
    stats.days = list(days.values())
    stats.by_status = {s: by_status[s] for s in PaymentStatus.values if by_status.get(s)}
    stats.by_currency = sorted(by_currency.values(), key=lambda c: (-c.count, c.currency))
    delivery_bounds = {k.replace("created_at", "payment__created_at"): v for k, v in bounds.items()}
    stats.deliveries = dict(
        PostbackDelivery.objects.filter(
            payment__merchant=merchant,
            payment__is_test=(mode == "test"),
            **delivery_bounds,
        )
        .values("status")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("status", "n")
    )
    return stats


def developer_tokens(*, merchant: Merchant) -> QuerySet:
    """Return the merchant's API keys, active first, newest first (never their digests)."""
    return (
        ApiToken.objects.filter(merchant=merchant)
        .defer("digest")
        .order_by(F("revoked_at").asc(nulls_first=True), "-created_at")
    )


def developer_recent_deliveries(*, merchant: Merchant, mode: str, limit: int = 20) -> list:
    """Return the merchant's latest postbacks in `mode`, each with its attempts."""
    return list(
        PostbackDelivery.objects.filter(
            payment__merchant=merchant, payment__is_test=(mode == "test")
        )
        .select_related("payment")
        .prefetch_related(
            Prefetch("attempts", queryset=DeliveryAttempt.objects.order_by("started_at"))
        )
        .order_by("-created_at", "-id")[:limit]
    )


def developer_last_postback_url(*, merchant: Merchant) -> str:
    """Return the postback URL the merchant used last, to prefill the test form."""
    return (
        Payment.objects.filter(merchant=merchant)
        .exclude(postback_url="")
        .order_by("-created_at")
        .values_list("postback_url", flat=True)
        .first()
        or ""
    )


def developer_endpoints(*, merchant: Merchant) -> QuerySet:
    """The merchant's postback endpoints with their health (payments/delivery/health.py)."""
    return PostbackEndpoint.objects.filter(merchant=merchant).order_by("-updated_at")


def portal_endpoint_trouble(*, merchant: Merchant) -> dict[str, int] | None:
    """How many of the merchant's endpoints are failing and disabled; None when none is."""
    row = PostbackEndpoint.objects.filter(merchant=merchant).aggregate(
        failing=Count("pk", filter=Q(disabled_at__isnull=True, failing_since__isnull=False)),
        disabled=Count("pk", filter=Q(disabled_at__isnull=False)),
    )
    return row if row["failing"] or row["disabled"] else None
