"""The sandbox's hosted pay page: `/sandbox/pay/<reference>` with Pay, Decline and the
other test outcomes (`sandbox_outcomes.py`, the same table the magic e-mails use).

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

from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from payments.models import Payment
from payments.shopper.redirects import back_to_merchant_url
from payments.shopper.sandbox_outcomes import (
    SANDBOX_OUTCOMES,
    sandbox_billed,
    sandbox_outcome_apply,
)
from payments.state import status_is_final
from providers.sandbox import MAGIC_EMAIL_DOMAIN, SandboxProvider


def _sandbox_payment(reference: str) -> Payment:
    payment = (
        Payment.objects.select_related("merchant")
        .filter(provider=SandboxProvider.key, provider_reference=reference)
        .first()
    )
    # The sandbox settles test payments only, whatever SANDBOX_ENABLED says: a live payment
    # on the sandbox (a merchant given a live key before that was refused) must never
    # become a genuinely signed live payment.succeeded because someone pressed Pay.
    if payment is None or not payment.is_test:
        raise Http404("No such sandbox invoice.")
    return payment


@require_http_methods(["GET", "POST"])
def sandbox_pay(request, reference: str):
    """Show the simulated invoice, or settle it with the shopper's choice."""
    payment = _sandbox_payment(reference)
    amount, currency = sandbox_billed(payment)
    is_final = status_is_final(payment.status)
    context = {
        "payment": payment,
        "merchant_name": payment.merchant.name,
        "amount": amount,
        "currency": currency,
        "outcomes": [(key, o.label) for key, o in SANDBOX_OUTCOMES.items() if key != "success"],
        "magic_domain": MAGIC_EMAIL_DOMAIN,
        "is_final": is_final,
        "back_url": back_to_merchant_url(payment.public_id, payment.status),
    }
    if request.method == "GET" or is_final:
        return render(request, "sandbox/pay.html", context)
    outcome = request.POST.get("outcome", "")
    if outcome not in SANDBOX_OUTCOMES:
        return render(
            request,
            "sandbox/pay.html",
            {**context, "error": True},
            status=400,
        )
    target = sandbox_outcome_apply(payment=payment, outcome=outcome)
    return HttpResponseRedirect(f"/integration/{target}?id={payment.public_id}")
