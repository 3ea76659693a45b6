"""What a second init-payment with the same merchant `id` (or Idempotency-Key) means.

`payment_init` inserts first; when the insert collides with an earlier payment, it asks
`payment_replay_decide` what the collision is:

- a **replay** of a payment still in progress or paid (same fields): the same answer, and
  the provider is not called again;
- a **retry** after the latest attempt for that `id` closed without being paid (`failed`,
  `expired`, `provider_error`): a new attempt (`attempt` n + 1, `retry_of` the one before)
  that may carry other fields (a smaller amount, another e-mail), so the same order can be
  paid after a decline;
- a **conflict**: the same `id` (or key) with other fields while a payment is in progress
  or paid: a 409 that names the fields that differ.

Only a merchant `id` retries. An `Idempotency-Key` means "this exact request once", as at
Stripe: its replays answer what the first one got, a provider error included.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from payments.errors import ApiError
from payments.models import Merchant, Payment, PaymentStatus

# Closed without money moving: the order may be paid by a new attempt under the same id.
RETRYABLE_STATUSES: frozenset[str] = frozenset(
    {PaymentStatus.FAILED, PaymentStatus.EXPIRED, PaymentStatus.PROVIDER_ERROR}
)

# Request field (as the API spells it) -> the payment column it is stored in.
REQUEST_COLUMNS: dict[str, str] = {
    "amount": "amount",
    "currency": "currency",
    "type": "payment_type",
    "customerEmail": "customer_email",
    "customerName": "customer_name",
    "successUrl": "success_url",
    "errorUrl": "error_url",
    "postbackUrl": "postback_url",
}


@dataclass(frozen=True)
class ReplayDecision:
    """The earlier payment the request collided with, and whether to retry it."""

    payment: Payment
    retry: bool


def payment_latest_attempt(
    *, merchant: Merchant, is_test: bool, reference: str | None, key: str | None
) -> Payment | None:
    """Return the newest payment under this merchant id (or Idempotency-Key), in this mode."""
    scope = Payment.objects.filter(merchant=merchant, is_test=is_test)
    if reference:
        return scope.filter(merchant_reference=reference).order_by("-attempt").first()
    if key:
        return scope.filter(idempotency_key=key).first()
    return None


def request_differences(*, payment: Payment, data: dict) -> list[str]:
    """Name the request fields whose values differ from what `payment` stored."""
    differing = []
    for field, column in REQUEST_COLUMNS.items():
        stored = getattr(payment, column)
        sent = data.get(field)
        if isinstance(stored, Decimal):
            same = sent is not None and Decimal(str(sent)).normalize() == stored.normalize()
        else:
            same = (sent or "") == (stored or "")
        if not same:
            differing.append(field)
    return differing


def payment_replay_decide(
    *,
    merchant: Merchant,
    is_test: bool,
    reference: str | None,
    key: str | None,
    data: dict,
    fingerprint: str,
) -> ReplayDecision | None:
    """Decide what a request that collided with an earlier payment gets; None: no such payment.

    Raise the 409 `idempotency_conflict` (with `errors` naming each differing field) when
    the request differs from a payment that is in progress or paid.
    """
    latest = payment_latest_attempt(
        merchant=merchant, is_test=is_test, reference=reference, key=key
    )
    if latest is None:
        return None
    if reference and latest.status in RETRYABLE_STATUSES:
        return ReplayDecision(payment=latest, retry=True)
    if latest.request_fingerprint != fingerprint:
        differing = request_differences(payment=latest, data=data) or ["id"]
        what = "id" if reference else "Idempotency-Key"
        raise ApiError(
            code="idempotency_conflict",
            status_code=409,
            message=(
                f"A payment with this {what} exists with other values of "
                f"{', '.join(differing)} (payment {latest.public_id}, {latest.status}). "
                "Send the same fields to get its answer again, or a new id for a new payment."
            ),
            errors={
                field: [f"Differs from the first request with this {what}."] for field in differing
            },
        )
    return ReplayDecision(payment=latest, retry=False)
