"""Portal payments: the filtered list, its CSV export, the detail page, and resend."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from payments.currencies import amount_format
from payments.delivery.resend import delivery_resend
from payments.models import Merchant, Payment, PaymentStatus
from reporting.portal.base import portal_context, portal_mode, portal_view
from reporting.portal.forms import PaymentFilterForm
from reporting.portal.selectors import (
    delivery_for_merchant,
    payment_currencies,
    payment_detail,
    payment_list,
)

PAGE_SIZE = 50
CSV_CHUNK = 2000
CSV_COLUMNS = [
    ("payment_id", lambda p: p.public_id),
    ("merchant_id", lambda p: p.merchant_reference or ""),
    ("status", lambda p: p.status),
    ("amount", lambda p: amount_format(p.amount, p.currency)),
    ("currency", lambda p: p.currency),
    ("provider_amount", lambda p: _amount(p.provider_amount, p.provider_currency)),
    ("provider_currency", lambda p: p.provider_currency),
    ("exchange_rate", lambda p: _decimal(p.exchange_rate)),
    ("paid_amount", lambda p: _paid(p)),
    ("customer_email", lambda p: p.customer_email),
    ("customer_name", lambda p: p.customer_name),
    ("provider", lambda p: p.provider),
    ("created_at", lambda p: p.created_at.isoformat()),
    ("updated_at", lambda p: p.updated_at.isoformat()),
    ("finalized_at", lambda p: p.finalized_at.isoformat() if p.finalized_at else ""),
]
# Cells a spreadsheet would run as a formula; shopper-supplied text is neutralised.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
FREE_TEXT_COLUMNS = {"merchant_id", "customer_email", "customer_name"}


def _decimal(value) -> str:
    return "" if value is None else format(value.normalize(), "f")


def _amount(value, currency: str) -> str:
    return "" if value is None else amount_format(value, currency)


def _paid(payment: Payment) -> str:
    """Only money that was paid: a declined or expired payment has no paid amount."""
    if payment.status != PaymentStatus.SUCCEEDED or payment.paid_amount is None:
        return ""
    return amount_format(payment.paid_amount, payment.paid_currency or payment.currency)


def csv_safe(value: str) -> str:
    """Prefix a quote to text a spreadsheet would evaluate (CSV formula injection)."""
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


def payment_csv_row(payment: Payment) -> list[str]:
    """Return one payment as CSV cells, in `CSV_COLUMNS` order."""
    return [
        csv_safe(getter(payment)) if name in FREE_TEXT_COLUMNS else getter(payment)
        for name, getter in CSV_COLUMNS
    ]


class _Echo:
    """A file-like object whose write() hands the formatted line back to the generator."""

    def write(self, value: str) -> str:
        return value


def _query_without_page(request: HttpRequest) -> str:
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


@portal_view
def payments(request: HttpRequest, merchant: Merchant) -> HttpResponse:
    """List the merchant's payments with search, filters and pagination."""
    form = PaymentFilterForm(data=request.GET)
    filters = form.filters()
    filters["mode"] = mode = portal_mode(request, merchant)
    page = Paginator(payment_list(merchant=merchant, **filters), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    context = portal_context(
        request,
        merchant,
        mode=mode,
        section="payments",
        form=form,
        filters=filters,
        page=page,
        query=_query_without_page(request),
        status_choices=PaymentStatus.choices,
        currencies=payment_currencies(merchant=merchant),
    )
    return render(request, "portal/payments.html", context)


@portal_view
def payments_csv(request: HttpRequest, merchant: Merchant) -> StreamingHttpResponse:
    """Stream the filtered list as CSV, row by row, so a big export never sits in memory.

    UTF-8 with a byte-order mark: without it Excel reads the file as the local code
    page and mangles non-ASCII shopper names; every CSV reader that knows UTF-8 skips it.
    """
    filters = PaymentFilterForm(data=request.GET).filters()
    filters["mode"] = portal_mode(request, merchant)
    queryset = payment_list(merchant=merchant, **filters)
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        yield "\ufeff" + writer.writerow([name for name, _ in CSV_COLUMNS])
        for payment in queryset.iterator(chunk_size=CSV_CHUNK):
            yield writer.writerow(payment_csv_row(payment))

    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="payments-{merchant.slug}-{stamp}.csv"'
    return response


@portal_view
def payment(request: HttpRequest, merchant: Merchant, public_id: str) -> HttpResponse:
    """Show one payment with its event timeline and every postback attempt."""
    found = payment_detail(merchant=merchant, public_id=public_id)
    if found is None:
        raise Http404("no such payment")
    context = portal_context(
        request,
        merchant,
        # The banner and the switch follow the payment shown, not the list's last mode.
        mode="test" if found.is_test else "live",
        switch_path=reverse("portal:payments"),
        section="payments",
        payment=found,
        events=found.events.all(),
        now=dt.datetime.now(tz=dt.UTC),
    )
    return render(request, "portal/payment_detail.html", context)


@require_POST
@portal_view
def postback_resend(
    request: HttpRequest, merchant: Merchant, public_id: str, delivery_id: int
) -> HttpResponse:
    """Queue a postback again at the merchant's request (its own payments only)."""
    delivery = delivery_for_merchant(
        merchant=merchant, public_id=public_id, delivery_id=delivery_id
    )
    if delivery is None:
        raise Http404("no such postback")
    # `by` lands in the exported event log: an id, never the login's e-mail address.
    delivery_resend(delivery=delivery, by=f"portal:user-{request.user.pk}")
    messages.success(request, "Postback queued for delivery again.")
    return redirect("portal:payment", public_id=public_id)
