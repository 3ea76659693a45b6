"""Creating payments: validation that needs the merchant, idempotency, the provider call.

`payment_init` is the whole of `POST /api/v1/init-payment` after parsing. It stores the
payment first (status `created`) in its own transaction, calls the provider outside any
transaction, then moves the row with a conditional UPDATE whose row count it checks.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from foundation.db_pool import connection_release
from payments import sql
from payments.audit import event_build, event_record
from payments.currencies import TELE_USD
from payments.errors import ApiError
from payments.kv import BreakerAnnouncements, kv_store
from payments.models import EventType, Merchant, Payment, PaymentStatus
from payments.reconcile import (
    INTERRUPTED_CODE,
    payment_close_interrupted,
    payment_created_is_abandoned,
)
from payments.retries import payment_replay_decide
from payments.routing import RoutePlan, invoice_create_routed, route_candidates, route_plan
from payments.state import payment_transition_unlocked
from payments.tokens import payment_id_generate
from providers.base import ProviderError
from providers.breaker import breakers_share_open_state
from providers.registry import get_provider

logger = logging.getLogger(__name__)

# How the provider's failure shows to the merchant.
PROVIDER_ERROR_STATUS = {"refused": 502, "unavailable": 503, "timeout": 504, "interrupted": 502}
PROVIDER_ERROR_CODE = {
    "refused": "provider_refused",
    "unavailable": "provider_unavailable",
    "timeout": "provider_timeout",
    # The init request died mid-call; closed by payments/reconcile.py.
    "interrupted": INTERRUPTED_CODE,
}
# A concurrent duplicate waits this long for the first request's provider call.
IN_FLIGHT_POLL_SECONDS = 0.05

# The provider breakers of every web process tell each other when a provider is down, so
# a process that has not yet seen the failures does not wait out its own timeouts.
breakers_share_open_state(BreakerAnnouncements())


@dataclass(frozen=True)
class InitResult:
    payment: Payment
    replayed: bool


def wrapper_url(payment: Payment) -> str:
    return f"{settings.PUBLIC_BASE_URL}/integration/pay?id={payment.public_id}"


def request_fingerprint(data: dict) -> str:
    """Hash the canonical request so a replay with different fields can be told apart.

    Amounts are normalised first: `100`, `100.0` and `"100.00"` are the same request.
    """
    canonical_data = {
        key: value.normalize() if isinstance(value, Decimal) else value
        for key, value in data.items()
    }
    canonical = json.dumps(canonical_data, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _resolve_currency(*, merchant: Merchant, data: dict) -> tuple[dict, list[str]]:
    """Fill the default currency, check the request against the merchant, pick candidates."""
    provider = get_provider(merchant.provider)
    errors: dict[str, list[str]] = {}
    if not data.get("currency"):
        if provider.default_currency:
            data["currency"] = TELE_USD
            if data.setdefault("type", "fiat") != "fiat":
                errors["type"] = ["TeleUSD (the default currency) is fiat."]
        else:
            errors["currency"] = ["This field is required for this merchant."]
    # The merchant's routes that take this payment, minus providers that cannot (TUSD
    # outside Tele, no e-mail for Bansky): payments/routing.py.
    candidates, provider_errors = route_candidates(merchant=merchant, data=data)
    errors.update(provider_errors)
    hosts = merchant.return_hosts
    if hosts:
        from urllib.parse import urlsplit

        for field in ("successUrl", "errorUrl"):
            if (urlsplit(data[field]).hostname or "").lower() not in hosts:
                errors[field] = ["Host is not among this merchant's allowed return hosts."]
    if errors:
        raise ApiError(
            code="validation_error", message="The request has invalid fields.", errors=errors
        )
    return data, candidates


def payment_init(
    *,
    merchant: Merchant,
    token,
    is_test: bool,
    data: dict,
    idempotency_key: str | None,
    retry_of: Payment | None = None,
) -> InitResult:
    """Validate against the merchant, store, call the provider, and return the payment.

    `retry_of` is the closed, unpaid attempt this one retries (payments/retries.py).
    """
    data, candidates = _resolve_currency(merchant=merchant, data=dict(data))
    # Test tokens always use the sandbox: what is stored (and converted) is what the
    # provider actually used, never the merchant's live provider. The first candidate is
    # stored; failover switches the row to the one that takes it (payments/routing.py).
    plan = route_plan(providers=candidates, is_test=is_test, data=data)
    first = plan.first
    reference = data.get("id")
    fingerprint = request_fingerprint({**data, "is_test": is_test})
    payment = Payment(
        public_id=payment_id_generate(),
        merchant=merchant,
        token=token,
        is_test=is_test,
        provider=first.provider,
        merchant_reference=reference,
        idempotency_key=None if reference else (idempotency_key or None),
        request_fingerprint=fingerprint,
        attempt=retry_of.attempt + 1 if retry_of else 1,
        retry_of=retry_of,
        customer_email=data.get("customerEmail", ""),
        customer_name=data.get("customerName", ""),
        amount=data["amount"],
        currency=data["currency"],
        payment_type=data["type"],
        provider_amount=first.provider_amount,
        provider_currency=first.provider_currency,
        exchange_rate=first.rate,
        success_url=data["successUrl"],
        error_url=data["errorUrl"],
        postback_url=data.get("postbackUrl", ""),
    )
    created = event_build(
        type=EventType.PAYMENT_CREATED,
        payment=payment,
        payload={"test": is_test, "has_postback": payment.wants_postbacks},
    )
    try:
        # The payment and its first event in one statement, atomic by itself (payments/sql.py).
        sql.insert_with_child(payment, created, link="payment")
    except IntegrityError:
        earlier = payment_replay_decide(
            merchant=merchant,
            is_test=is_test,
            reference=reference,
            key=idempotency_key,
            data=data,
            fingerprint=fingerprint,
        )
        if earlier is None:
            raise
        if earlier.retry:
            return payment_init(
                merchant=merchant,
                token=token,
                is_test=is_test,
                data=data,
                idempotency_key=idempotency_key,
                retry_of=earlier.payment,
            )
        return InitResult(payment=_wait_until_settled(earlier.payment), replayed=True)

    return InitResult(payment=_invoice(payment, plan), replayed=False)


def _wait_until_settled(payment: Payment) -> Payment:
    """A duplicate that arrives while the first request is still at the provider waits for it.

    A payment no live request can still be working on (its request died: see
    payments/reconcile.py) is closed here and now, so the answer is definite at once
    rather than a 409 for every retry until the reconciler's next run.
    """
    deadline = (
        time.monotonic() + settings.PROVIDER_CONNECT_TIMEOUT + settings.PROVIDER_READ_TIMEOUT + 2
    )
    while payment.status == PaymentStatus.CREATED and time.monotonic() < deadline:
        if payment_created_is_abandoned(payment):
            payment_close_interrupted(payment=payment)
            payment.refresh_from_db()
            break
        # Hold no pooled connection while waiting: the first request needs one to record
        # its invoice, and twenty waiting duplicates must not starve it.
        connection_release()
        time.sleep(IN_FLIGHT_POLL_SECONDS)
        payment.refresh_from_db()
    if payment.status == PaymentStatus.CREATED:
        raise ApiError(
            code="request_in_progress",
            status_code=409,
            message="The first request with this id is still being processed; retry shortly.",
        )
    return payment


def _invoice(payment: Payment, plan: RoutePlan) -> Payment:
    """Ask the provider for an invoice, outside any transaction, and record the outcome."""
    # The provider may take seconds: hold no pooled database connection meanwhile, so the
    # process's connection budget does not grow with the provider's latency.
    connection_release()
    try:
        # Each provider under its bulkhead (a concurrency cap and a circuit breaker); the
        # next candidate when one is down (payments/routing.py).
        invoice = invoice_create_routed(payment=payment, plan=plan)
    except ProviderError as exc:
        return _mark_provider_error(payment, exc)

    payload = {"provider_reference": invoice.reference}
    # The usual case, in one statement: still `created`, so the invoice, the move and its
    # event are written together (only this function writes an invoice, once per payment).
    moved = payment_transition_unlocked(
        payment=payment,
        current=PaymentStatus.CREATED,
        target=PaymentStatus.PENDING,
        event=event_build(type=EventType.INVOICE_CREATED, payment=payment, payload=payload),
        provider_url=invoice.url,
        provider_reference=invoice.reference,
    )
    if not moved:
        with transaction.atomic():
            # A verified postback overtook this write (and moved the payment on) while
            # the provider answered: the invoice is stored all the same, and its event.
            Payment.objects.filter(pk=payment.pk, provider_reference="").update(
                provider_url=invoice.url,
                provider_reference=invoice.reference,
                updated_at=timezone.now(),
            )
            payment.refresh_from_db()
            event_record(type=EventType.INVOICE_CREATED, payment=payment, payload=payload)
    if moved:
        kv_store(payment)
    logger.info("payment %s %s at %s", payment.public_id, payment.status, payment.provider)
    return payment


def _mark_provider_error(payment: Payment, exc: ProviderError) -> Payment:
    code = PROVIDER_ERROR_CODE.get(exc.kind, "provider_refused")
    moved = payment_transition_unlocked(
        payment=payment,
        current=PaymentStatus.CREATED,
        target=PaymentStatus.PROVIDER_ERROR,
        provider_error_code=code,
        provider_error_message=exc.message[:500],
    )
    if not moved:
        payment.refresh_from_db()
    event_record(
        type=EventType.PROVIDER_ERROR,
        payment=payment,
        payload={"code": code, "message": exc.message[:500], "permanent": exc.permanent},
    )
    logger.warning("payment %s: %s (%s)", payment.public_id, code, exc.message)
    return payment


def provider_error_for(payment: Payment) -> ApiError:
    """The error answer for a payment the provider did not accept (first time and replays)."""
    kind = {v: k for k, v in PROVIDER_ERROR_CODE.items()}.get(
        payment.provider_error_code, "refused"
    )
    return ApiError(
        code=payment.provider_error_code or "provider_refused",
        status_code=PROVIDER_ERROR_STATUS[kind],
        message=(
            f"{payment.provider_error_message or 'The provider did not accept the payment.'} "
            f"The payment {payment.public_id} is kept with status provider_error."
        ),
    )
