"""The sandbox's hosted pay page: `/sandbox/pay/<reference>` with Pay and Decline.

Pressing a button does what a real provider does: it sends a signed postback, then sends
the shopper back to the gateway's success or error URL. The postback is signed with the
sandbox secret (`sign_sandbox_postback`) and handed to the same intake service the
`/api/payment-verify/sandbox` view calls, in-process, before the redirect. That keeps the
whole verification path real (a bad signature is refused here too) while not depending
on the server being able to reach its own public URL, and the shopper never arrives at
the success page before the payment's status has changed. Providers' postbacks arrive
over HTTP, and the tests cover that path with the same signed bodies.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from payments.currencies import amount_format
from payments.intake.services import postback_receive
from payments.models import Payment
from payments.shopper.redirects import back_to_merchant_url
from payments.state import status_is_final
from providers.base import RawPostback
from providers.sandbox import SandboxProvider, sign_sandbox_postback

OUTCOMES = ("success", "failure")


def _sandbox_payment(reference: str) -> Payment:
    payment = (
        Payment.objects.select_related("merchant")
        .filter(provider=SandboxProvider.key, provider_reference=reference)
        .first()
    )
    # Test tokens use the sandbox even where it is off for everything else.
    if payment is None or not (settings.SANDBOX_ENABLED or payment.is_test):
        raise Http404("No such sandbox invoice.")
    return payment


def _billed(payment: Payment) -> tuple[str, str]:
    if payment.provider_amount is not None and payment.provider_currency:
        return (
            amount_format(payment.provider_amount, payment.provider_currency),
            payment.provider_currency,
        )
    return amount_format(payment.amount, payment.currency), payment.currency


@require_http_methods(["GET", "POST"])
def sandbox_pay(request, reference: str):
    """Show the simulated invoice, or settle it with the shopper's choice."""
    payment = _sandbox_payment(reference)
    amount, currency = _billed(payment)
    billed = {"amount": amount, "currency": currency}
    is_final = status_is_final(payment.status)
    if request.method == "GET" or is_final:
        return render(
            request,
            "sandbox/pay.html",
            {
                "payment": payment,
                "merchant_name": payment.merchant.name,
                "is_final": is_final,
                "back_url": back_to_merchant_url(payment.public_id, payment.status),
                **billed,
            },
        )
    outcome = request.POST.get("outcome", "")
    if outcome not in OUTCOMES:
        return render(
            request,
            "sandbox/pay.html",
            {"payment": payment, "merchant_name": payment.merchant.name, **billed, "error": True},
            status=400,
        )
    body, headers = sign_sandbox_postback(
        {
            "eventId": "sbx_evt_" + secrets.token_urlsafe(12),
            "reference": reference,
            "paymentId": payment.public_id,
            "outcome": outcome,
            "amount": amount,
            "currency": currency,
        }
    )
    postback_receive(provider_key=SandboxProvider.key, raw=RawPostback(body=body, headers=headers))
    target = "success" if outcome == "success" else "error"
    return HttpResponseRedirect(f"/integration/{target}?id={payment.public_id}")
