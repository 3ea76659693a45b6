"""Shopper redirects under /integration/.

`pay` sends the shopper to the provider's page, read from the KV (falling back to the
database). `success` and `error` send the shopper back to the merchant's stored URL: the
destination never comes from the query string (no open redirect), and a return never
changes the payment's status (only a verified provider postback does).

Their events go through the buffer (payments/shopper/event_buffer.py): no synchronous
database write on a KV hit. Under ASGI, a KV hit on `pay` never reaches this module: the
fast lane (payments/shopper/fast_lane.py) answers it; everything else comes here.
"""

from __future__ import annotations

from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from payments.currencies import amount_format
from payments.kv import kv_get
from payments.models import EventType, PaymentStatus
from payments.selectors import payment_get_by_public_id
from payments.shopper.event_buffer import shopper_event_buffer
from payments.state import CLOSED_STATUSES

# Statuses for which the provider page is not (or no longer) worth showing: closed ones,
# and `created` (no invoice yet).
NOT_PAYABLE = CLOSED_STATUSES | {PaymentStatus.CREATED}


def entry_payable(entry: dict) -> bool:
    """Whether a redirect entry sends the shopper to the provider (else the closed page):
    the view's rule and the fast lane's for a KV miss (the fast lane's Lua script for a
    hit says the same in Lua, kept equal by tests/payments/shopper/test_fast_lane.py)."""
    return entry["status"] not in NOT_PAYABLE and bool(entry["provider_url"])


def _entry(public_id: str) -> dict | None:
    if not public_id or len(public_id) > 64:
        return None
    # kv_get already falls back to the database (and refills a pending entry).
    return kv_get(public_id)


def _not_found(request):
    return render(request, "integration/not_found.html", status=404)


@never_cache
@require_GET
def pay(request):
    public_id = request.GET.get("id", "")
    entry = _entry(public_id)
    if entry is None:
        return _not_found(request)
    if not entry_payable(entry):
        return _closed(request, public_id=public_id, status=entry["status"])
    shopper_event_buffer(entry=entry, type=EventType.SHOPPER_REDIRECTED)
    return HttpResponseRedirect(entry["provider_url"])


def back_to_merchant_url(public_id: str, status: str) -> str:
    """The way back to the shop from a page with nothing left to pay: its success or error URL.

    Through our own return routes, which record the return and read the merchant's URL
    from the payment (never from the query string).
    """
    kind = "success" if status == PaymentStatus.SUCCEEDED else "error"
    return f"/integration/{kind}?id={public_id}"


def _closed(request, *, public_id: str, status: str):
    # Off the hot path (a shopper opening a settled link): one read for the merchant's
    # name and the amount, so the page says whose payment this was.
    payment = payment_get_by_public_id(public_id=public_id)
    context = {"status": status, "status_label": PaymentStatus(status).label}
    if payment is not None:
        context |= {
            "payment": payment,
            "merchant_name": payment.merchant.name,
            "amount": amount_format(payment.amount, payment.currency),
            "back_url": back_to_merchant_url(payment.public_id, status),
        }
    status_code = 410 if status == PaymentStatus.EXPIRED else 200
    return render(request, "integration/closed.html", context, status=status_code)


def _return(request, *, url_field: str, event_type: str):
    public_id = request.GET.get("id", "")
    entry = _entry(public_id)
    if entry is None:
        return _not_found(request)
    shopper_event_buffer(entry=entry, type=event_type)
    return HttpResponseRedirect(entry[url_field])


@never_cache
@require_GET
def success(request):
    return _return(request, url_field="success_url", event_type=EventType.SHOPPER_RETURNED_SUCCESS)


@never_cache
@require_GET
def error(request):
    return _return(request, url_field="error_url", event_type=EventType.SHOPPER_RETURNED_ERROR)
