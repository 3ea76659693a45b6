"""Every test outcome on demand: what the sandbox page's buttons and the magic e-mails do.

One table (`SANDBOX_OUTCOMES`), used by the page's buttons and by init-payment with a magic
`customerEmail` (`providers/sandbox.py`, `MAGIC_OUTCOMES`), so a merchant's test suite can
drive each outcome without a browser. Each outcome is what a provider would do: a signed
sandbox postback handed to the intake service, so the whole verification path stays real.
The outage (`unavailable`) is the sandbox provider's own answer at invoice time.

| outcome        | provider postback                      | merchant postback                |
|----------------|----------------------------------------|----------------------------------|
| `success`      | paid in full                           | `payment.succeeded`              |
| `failure`      | declined                               | `payment.failed`                 |
| `other_amount` | paid one minor unit less than billed   | `payment.flagged` (stays pending)|
| `expire`       | expired                                | `payment.expired`                |
| `delayed`      | paid, `SANDBOX_POSTBACK_DELAY` s later | `payment.succeeded`, late        |
| `twice`        | paid in full                           | `payment.succeeded`, sent twice  |
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from decimal import Decimal

from celery import shared_task
from django.conf import settings
from django.db import transaction

from payments.currencies import amount_format, currency_lookup
from payments.delivery.resend import delivery_resend
from payments.intake.services import postback_receive
from payments.models import DeliveryStatus, Payment, PaymentStatus, PostbackDelivery
from payments.task_names import SANDBOX_POSTBACK_LATE, SANDBOX_POSTBACK_REPEAT
from providers.base import RawPostback
from providers.sandbox import SandboxProvider, magic_outcome, sign_sandbox_postback

logger = logging.getLogger(__name__)

# "Sent twice": the repeat waits for the first delivery's 2xx, checking this often...
REPEAT_POLL_SECONDS = 1.0
# ...for at most this many checks (the first try and a few retries of a slow receiver).
REPEAT_MAX_CHECKS = 120


@dataclass(frozen=True)
class SandboxOutcome:
    label: str
    provider_outcome: str  # the sandbox postback's `outcome` (providers/sandbox.py)
    shopper_return: str  # "success" or "error": where the shopper is sent back


SANDBOX_OUTCOMES: dict[str, SandboxOutcome] = {
    "success": SandboxOutcome("Pay", "success", "success"),
    "failure": SandboxOutcome("Decline", "failure", "error"),
    "other_amount": SandboxOutcome("Pay a different amount (flagged)", "success", "success"),
    "expire": SandboxOutcome("Let it expire now", "expired", "error"),
    "delayed": SandboxOutcome("Pay, postback delayed", "success", "success"),
    "twice": SandboxOutcome("Pay, postback sent twice", "success", "success"),
}


def sandbox_billed(payment: Payment) -> tuple[str, str]:
    """What the sandbox bills: the converted amount when there is one, else the payment's."""
    if payment.provider_amount is not None and payment.provider_currency:
        return (
            amount_format(payment.provider_amount, payment.provider_currency),
            payment.provider_currency,
        )
    return amount_format(payment.amount, payment.currency), payment.currency


def _other_amount(amount: str, currency: str) -> str:
    """One minor unit less than billed (or twice the amount when that is the smallest unit)."""
    info = currency_lookup(currency)
    unit = Decimal(1).scaleb(-(info.digits if info else 2))
    value = Decimal(amount)
    return amount_format(value - unit if value > unit else value * 2, currency)


def sandbox_postback_send(*, payment: Payment, provider_outcome: str, amount: str) -> str:
    """Sign a sandbox postback for `payment` and hand it to intake, as a provider's would be."""
    _, currency = sandbox_billed(payment)
    body, headers = sign_sandbox_postback(
        {
            "eventId": "sbx_evt_" + secrets.token_urlsafe(12),
            "reference": payment.provider_reference,
            "paymentId": payment.public_id,
            "outcome": provider_outcome,
            "amount": amount,
            "currency": currency,
        }
    )
    result = postback_receive(
        provider_key=SandboxProvider.key, raw=RawPostback(body=body, headers=headers)
    )
    return result.code


def sandbox_outcome_apply(*, payment: Payment, outcome: str) -> str:
    """Make `outcome` happen to a pending sandbox payment; return where the shopper goes back."""
    chosen = SANDBOX_OUTCOMES[outcome]
    amount, currency = sandbox_billed(payment)
    if outcome == "other_amount":
        amount = _other_amount(amount, currency)
    if outcome == "delayed":
        payment_id = payment.pk
        transaction.on_commit(
            lambda: _schedule(
                sandbox_postback_late, payment_id, countdown=settings.SANDBOX_POSTBACK_DELAY
            )
        )
        return chosen.shopper_return
    sandbox_postback_send(payment=payment, provider_outcome=chosen.provider_outcome, amount=amount)
    if outcome == "twice":
        payment_id = payment.pk
        transaction.on_commit(lambda: _schedule(sandbox_postback_repeat, payment_id, countdown=0))
    return chosen.shopper_return


def sandbox_outcome_on_init(*, payment: Payment) -> None:
    """Settle a fresh test payment at once when its customerEmail is a magic one."""
    if payment.provider != SandboxProvider.key or payment.status != PaymentStatus.PENDING:
        return
    outcome = magic_outcome(payment.customer_email)
    if outcome in SANDBOX_OUTCOMES:
        sandbox_outcome_apply(payment=payment, outcome=outcome)


def _schedule(task, payment_id: int, *, countdown: float) -> None:
    try:
        task.apply_async(args=(payment_id,), countdown=countdown, retry=False)
    except Exception as exc:  # the broker is down: a test outcome is not worth a 500
        logger.warning("sandbox outcome for payment %s not scheduled (%s)", payment_id, exc)


@shared_task(name=SANDBOX_POSTBACK_LATE, ignore_result=True)
def sandbox_postback_late(payment_id: int) -> None:
    """Confirm a "postback delayed" payment, now that its delay is over."""
    payment = Payment.objects.filter(pk=payment_id).first()
    if payment is None or payment.status != PaymentStatus.PENDING:
        return
    amount, _ = sandbox_billed(payment)
    sandbox_postback_send(payment=payment, provider_outcome="success", amount=amount)


@shared_task(
    name=SANDBOX_POSTBACK_REPEAT, bind=True, ignore_result=True, max_retries=REPEAT_MAX_CHECKS
)
def sandbox_postback_repeat(self, payment_id: int) -> None:
    """Send a delivered postback again with the same webhook-id (the "sent twice" outcome).

    Waits for the first delivery's 2xx, so the merchant really receives it twice (a resend
    of a delivery still pending would only replace its next try).
    """
    delivery = (
        PostbackDelivery.objects.filter(payment_id=payment_id).order_by("-created_at").first()
    )
    if delivery is None or delivery.status == DeliveryStatus.FAILED:
        return
    if delivery.status != DeliveryStatus.SUCCEEDED:
        raise self.retry(countdown=REPEAT_POLL_SECONDS)
    delivery_resend(delivery=delivery, by="sandbox: postback sent twice")
