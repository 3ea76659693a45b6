"""The hosted waiting page, for any flow where the provider does not send the shopper back.

`GET /integration/status?id=<paymentId>` shows "waiting for your payment" and polls
`GET /integration/status.json?id=<paymentId>`; once the payment is final it forwards the
shopper through the gateway's own `/integration/success` or `/integration/error`, which
send them on to the merchant's URL (and record the return). The payment id is
unguessable, so knowing it is the permission; the JSON says no more than the page shows.
"""

from __future__ import annotations

from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from payments.currencies import amount_format
from payments.models import Payment, PaymentStatus
from payments.selectors import payment_get_by_public_id
from payments.state import CLOSED_STATUSES

POLL_INTERVAL_MS = 2000
# What the shopper reads while waiting: words, not our status codes.
STATUS_WORDING = {
    PaymentStatus.CREATED: "Starting the payment",
    PaymentStatus.PENDING: "Waiting for confirmation",
    PaymentStatus.SUCCEEDED: "Paid: taking you back to the shop",
    PaymentStatus.FAILED: "Not paid: taking you back to the shop",
    PaymentStatus.EXPIRED: "Expired: taking you back to the shop",
    PaymentStatus.PROVIDER_ERROR: "Could not be started: taking you back to the shop",
}


def status_redirect_url(payment: Payment) -> str | None:
    """Where a shopper goes once the payment is settled; None while it is not."""
    if payment.status == PaymentStatus.SUCCEEDED:
        return f"/integration/success?id={payment.public_id}"
    if payment.status in CLOSED_STATUSES:
        return f"/integration/error?id={payment.public_id}"
    return None


def _payment_or_404(request) -> Payment:
    public_id = request.GET.get("id", "")
    payment = payment_get_by_public_id(public_id=public_id) if public_id else None
    if payment is None:
        raise Http404("No such payment.")
    return payment


@never_cache
@require_GET
def status_page(request):
    """Show the waiting page, or forward at once when the payment is already settled."""
    payment = _payment_or_404(request)
    target = status_redirect_url(payment)
    if target:
        return HttpResponseRedirect(target)
    return render(
        request,
        "integration/status.html",
        {
            "payment": payment,
            "merchant_name": payment.merchant.name,
            "amount": amount_format(payment.amount, payment.currency),
            "status_label": STATUS_WORDING.get(payment.status, payment.get_status_display()),
            "poll_interval_ms": POLL_INTERVAL_MS,
        },
    )


@never_cache
@require_GET
def status_json(request):
    """Answer the waiting page's poll: the status and, once final, where to go."""
    public_id = request.GET.get("id", "")
    payment = payment_get_by_public_id(public_id=public_id) if public_id else None
    if payment is None:
        return JsonResponse({"status": "error", "code": "not_found"}, status=404)
    target = status_redirect_url(payment)
    return JsonResponse(
        {
            "paymentId": payment.public_id,
            "status": payment.status,
            "statusLabel": STATUS_WORDING.get(payment.status, payment.get_status_display()),
            "final": target is not None,
            "redirectUrl": target,
        }
    )
