"""Routing a payment to one of the merchant's providers, and failing over within the request.

A merchant has an ordered list of routes (`Merchant.routing`, edited through
`payments.merchants.merchant_routing_set`). A route names a provider and may narrow the
payments it takes by currency, payment type and amount range; the routes that match a
payment, in order and without repeats, are its candidates. A merchant without routes has
one: its `provider` (so a one-provider merchant behaves as it always did).

Candidates are then filtered by what each provider can take (TUSD only at Tele, an e-mail
for Bansky, a TUSD rate for Tele's conversion). When none is left, the first one's reason is
the answer, so a one-provider merchant gets the same 400 it always got.

Failover (`invoice_create_routed`): the first healthy candidate takes the payment. A
candidate whose breaker is open, whose concurrency cap is full, or that fails before an
invoice exists (connection refused, 5xx, timeout) is skipped for the next one, all within
`PROVIDER_FAILOVER_BUDGET` seconds for the whole request: each try's timeouts are capped
at its fair share of what is left (the last candidate gets all of it). Before a later
candidate is called, the stored payment is switched to it (provider and conversion, in one
conditional UPDATE while still `created`), so its postback finds the payment and the
invoice URL written afterwards is the only one the gateway ever hands out. A permanent
refusal (4xx: our request was wrong) is answered as it is, not retried elsewhere.
Each try of a merchant with several candidates is a `provider.attempt` event (provider,
outcome, duration), exported to BigQuery like every event. A one-candidate payment keeps
the full provider timeouts and records no attempt events: its `provider.invoice_created`
or `provider.error` event already says it.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.conf import settings
from django.utils import timezone

from foundation.http import provider_timeout_capped
from payments.audit import event_record
from payments.currencies import TELE_USD, currency_lookup
from payments.errors import ApiError
from payments.models import EventType, ExchangeRate, Merchant, Payment, PaymentStatus, PaymentType
from providers.base import Invoice, InvoiceRequest, ProviderError
from providers.breaker import provider_call
from providers.registry import PROVIDERS, SANDBOX, get_provider

# Providers that take TUSD (TeleUSD) as the payment's own currency.
TELE_USD_PROVIDERS = frozenset({"tele", SANDBOX})
# A try is not started with less than this left of the budget: it could not finish.
MIN_TRY_SECONDS = 0.05
# The words a route line is written with (admin, CLI): `bansky currency=EUR,USD type=fiat
# amount=10..5000`.
RULE_KEYS = ("currency", "type", "amount")
ROUTE_LINE_HELP = (
    "a provider with rules, e.g. 'bansky currency=EUR,USD type=fiat amount=10..5000'; "
    "repeatable, in order of preference"
)


class RoutingError(ValueError):
    """A routing list that cannot be stored, worded for the operator."""


@dataclass(frozen=True)
class Route:
    """One entry of a merchant's routing list: a provider, and the payments it may take."""

    provider: str
    currencies: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    min_amount: Decimal | None = None
    max_amount: Decimal | None = None

    def matches(self, *, currency: str, payment_type: str, amount: Decimal) -> bool:
        return (
            self.matches_currency(currency)
            and (not self.types or payment_type in self.types)
            and (self.min_amount is None or amount >= self.min_amount)
            and (self.max_amount is None or amount <= self.max_amount)
        )

    def matches_currency(self, currency: str) -> bool:
        return not self.currencies or currency in self.currencies

    def as_json(self) -> dict:
        data: dict = {"provider": self.provider}
        if self.currencies:
            data["currencies"] = list(self.currencies)
        if self.types:
            data["types"] = list(self.types)
        if self.min_amount is not None:
            data["min_amount"] = str(self.min_amount)
        if self.max_amount is not None:
            data["max_amount"] = str(self.max_amount)
        return data

    def as_line(self) -> str:
        parts = [self.provider]
        if self.currencies:
            parts.append("currency=" + ",".join(self.currencies))
        if self.types:
            parts.append("type=" + ",".join(self.types))
        if self.min_amount is not None or self.max_amount is not None:
            low = "" if self.min_amount is None else str(self.min_amount)
            high = "" if self.max_amount is None else str(self.max_amount)
            parts.append(f"amount={low}..{high}")
        return " ".join(parts)


def _decimal(raw: str, *, what: str) -> Decimal | None:
    if raw == "":
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise RoutingError(f"{what} {raw!r} is not a number") from None
    if not value.is_finite() or value < 0:
        raise RoutingError(f"{what} {raw!r} must be a number of zero or more")
    return value


def _route_build(
    *, provider: str, currencies: Iterable[str], types: Iterable[str], low: str, high: str
) -> Route:
    """Check one route's parts and return it; every message names what is wrong."""
    provider = provider.strip().lower()
    if provider not in PROVIDERS:
        raise RoutingError(f"unknown provider {provider!r}; choose from: {', '.join(PROVIDERS)}")
    codes = []
    for raw in currencies:
        info = currency_lookup(raw)
        if info is None:
            raise RoutingError(f"unknown currency {raw!r} in the route for {provider}")
        codes.append(info.code)
    kinds = [t.strip().lower() for t in types]
    for kind in kinds:
        if kind not in PaymentType.values:
            raise RoutingError(
                f"unknown payment type {kind!r}; choose from: {', '.join(PaymentType.values)}"
            )
    min_amount = _decimal(low, what="minimum amount")
    max_amount = _decimal(high, what="maximum amount")
    if min_amount is not None and max_amount is not None and min_amount > max_amount:
        raise RoutingError(f"amount range {low}..{high} is empty")
    if TELE_USD in codes and provider not in TELE_USD_PROVIDERS:
        raise RoutingError(f"{provider} does not take TeleUSD")
    return Route(provider, tuple(dict.fromkeys(codes)), tuple(kinds), min_amount, max_amount)


def route_parse(line: str) -> Route:
    """Read one route written as `provider [currency=A,B] [type=fiat] [amount=LOW..HIGH]`."""
    words = line.split()
    if not words:
        raise RoutingError("an empty route line")
    rules: dict[str, str] = {}
    for word in words[1:]:
        key, sep, value = word.partition("=")
        if not sep or key not in RULE_KEYS or not value:
            raise RoutingError(
                f"cannot read {word!r}: write currency=…, type=… or amount=LOW..HIGH"
            )
        rules[key] = value
    low, sep, high = rules.get("amount", "..").partition("..")
    if not sep:
        raise RoutingError(f"amount {rules['amount']!r} must be written LOW..HIGH")
    return _route_build(
        provider=words[0],
        currencies=[c for c in rules.get("currency", "").split(",") if c],
        types=[t for t in rules.get("type", "").split(",") if t],
        low=low,
        high=high,
    )


def routes_parse(lines: Iterable[str]) -> list[Route]:
    """Read a routing list, one route per line (blank lines skipped); never empty."""
    routes = [route_parse(line) for line in lines if line.strip()]
    if not routes:
        raise RoutingError("a merchant needs at least one provider")
    return routes


def routes_from_json(data: list[dict]) -> list[Route]:
    """Read `Merchant.routing` as stored (it was validated when written)."""
    return [
        _route_build(
            provider=item["provider"],
            currencies=item.get("currencies", ()),
            types=item.get("types", ()),
            low=item.get("min_amount") or "",
            high=item.get("max_amount") or "",
        )
        for item in data
    ]


def merchant_routes(merchant: Merchant) -> list[Route]:
    """The merchant's routes in order; without any, its one provider takes everything."""
    if merchant.routing:
        return routes_from_json(merchant.routing)
    return [Route(merchant.provider)]


# ---- choosing candidates for one payment -------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """A provider that may take this payment, with the amount it would bill."""

    provider: str
    provider_amount: Decimal | None = None
    provider_currency: str = ""
    rate: Decimal | None = None


@dataclass
class RoutePlan:
    """The candidates of one payment in order (the first is stored with the payment)."""

    candidates: list[Candidate] = field(default_factory=list)

    @property
    def first(self) -> Candidate:
        return self.candidates[0]


def _no_route_errors(routes: list[Route], data: dict) -> dict[str, list[str]]:
    """Name the field that no route takes: the currency first, then the type, then amount."""
    currency, kind = data["currency"], data["type"]
    if not any(r.matches_currency(currency) for r in routes):
        return {"currency": [f"None of this merchant's providers takes {currency}."]}
    if not any(r.matches_currency(currency) and (not r.types or kind in r.types) for r in routes):
        return {"type": [f"None of this merchant's providers takes {kind} payments in {currency}."]}
    return {"amount": ["None of this merchant's providers takes this amount in this currency."]}


def _provider_errors(provider_key: str, data: dict) -> dict[str, list[str]]:
    """Why `provider_key` cannot take this payment (field -> messages), or {}."""
    errors: dict[str, list[str]] = {}
    if data.get("currency") == TELE_USD and provider_key not in TELE_USD_PROVIDERS:
        errors["currency"] = ["TeleUSD is only available with Tele.Store."]
    if get_provider(provider_key).requires_email and not data.get("customerEmail"):
        errors["customerEmail"] = ["This field is required for this merchant's provider."]
    return errors


def route_candidates(*, merchant: Merchant, data: dict) -> tuple[list[str], dict[str, list[str]]]:
    """The providers (in order) that may take this payment, or the field errors why none.

    Judged on the merchant's live routes for test payments too, so a test payment is
    refused exactly when its live twin would be (it then goes to the sandbox).
    """
    routes = merchant_routes(merchant)
    if not data.get("currency"):
        return [], {}  # already reported by the caller
    currency, kind, amount = data["currency"], data["type"], data["amount"]
    matching = list(
        dict.fromkeys(
            r.provider
            for r in routes
            if r.matches(currency=currency, payment_type=kind, amount=amount)
        )
    )
    if not matching:
        return [], _no_route_errors(routes, data)
    able = [key for key in matching if not _provider_errors(key, data)]
    if not able:
        return [], _provider_errors(matching[0], data)
    return able, {}


def exchange_rate_current(*, currency: str) -> Decimal | None:
    """Return the newest TUSD rate for `currency` (1 for TUSD itself), or None."""
    if currency == TELE_USD:
        return Decimal(1)
    return (
        ExchangeRate.objects.filter(currency=currency)
        .order_by("-created_at", "-pk")
        .values_list("rate_to_tusd", flat=True)
        .first()
    )


def _candidate(*, provider_key: str, amount: Decimal, currency: str) -> Candidate:
    """Convert to the provider's billing currency (Tele: TUSD), rounding half up to cents."""
    billing = get_provider(provider_key).billing_currency
    if not billing:
        return Candidate(provider_key)
    rate = exchange_rate_current(currency=currency)
    if rate is None:
        raise ApiError(
            code="exchange_rate_missing",
            message=f"No exchange rate from {currency} to TUSD is set; ask the gateway to add one.",
            errors={"currency": [f"No TUSD rate for {currency}."]},
        )
    converted = (amount * rate).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return Candidate(provider_key, converted, billing, rate)


def route_plan(*, providers: list[str], is_test: bool, data: dict) -> RoutePlan:
    """Each candidate with its conversion; test payments always go to the sandbox alone.

    A candidate that cannot convert (no TUSD rate) is dropped when others remain; when it
    is the only one, its `exchange_rate_missing` is the answer, as for a one-provider merchant.
    """
    if is_test:
        providers = [SANDBOX]
    plan = RoutePlan()
    first_error: ApiError | None = None
    for key in providers:
        try:
            plan.candidates.append(
                _candidate(provider_key=key, amount=data["amount"], currency=data["currency"])
            )
        except ApiError as exc:
            first_error = first_error or exc
    if not plan.candidates:
        assert first_error is not None
        raise first_error
    return plan


# ---- failover ----------------------------------------------------------------------------


def gateway_urls(payment_id: str, provider_key: str) -> dict[str, str]:
    """Our own success/error/postback URLs, which the provider sees instead of the merchant's."""
    base = settings.PUBLIC_BASE_URL
    return {
        "success_url": f"{base}/integration/success?id={payment_id}",
        "error_url": f"{base}/integration/error?id={payment_id}",
        "postback_url": f"{base}/api/payment-verify/{provider_key}",
    }


def invoice_request(payment: Payment) -> InvoiceRequest:
    """What the payment's current provider is asked to bill."""
    return InvoiceRequest(
        payment_id=payment.public_id,
        amount=payment.amount,
        currency=payment.currency,
        payment_type=payment.payment_type,
        customer_email=payment.customer_email,
        customer_name=payment.customer_name,
        provider_amount=payment.provider_amount,
        provider_currency=payment.provider_currency,
        **gateway_urls(payment.public_id, payment.provider),
    )


def _payment_switch(payment: Payment, candidate: Candidate) -> bool:
    """Point the stored payment at `candidate` while it is still `created` (one UPDATE)."""
    fields = {
        "provider": candidate.provider,
        "provider_amount": candidate.provider_amount,
        "provider_currency": candidate.provider_currency,
        "exchange_rate": candidate.rate,
    }
    moved = Payment.objects.filter(pk=payment.pk, status=PaymentStatus.CREATED).update(
        updated_at=timezone.now(), **fields
    )
    if moved:
        for name, value in fields.items():
            setattr(payment, name, value)
    return bool(moved)


def _attempt_record(payment: Payment, *, number: int, outcome: str, started: float) -> None:
    event_record(
        type=EventType.PROVIDER_ATTEMPT,
        payment=payment,
        payload={
            "attempt": number,
            "provider": payment.provider,
            "outcome": outcome,
            "durationMs": round((time.monotonic() - started) * 1000),
        },
    )


def invoice_create_routed(*, payment: Payment, plan: RoutePlan) -> Invoice:
    """Get an invoice from the first candidate that gives one; see the module docstring.

    On return, `payment` (and its row) name the provider that holds the invoice. Raises the
    provider's `ProviderError` when nothing more can be tried: a permanent refusal as it
    is, a lone candidate's failure as it is, and `unavailable` when every candidate failed.
    """
    candidates = plan.candidates
    if len(candidates) == 1:
        provider = get_provider(payment.provider)
        request = invoice_request(payment)
        return provider_call(payment.provider, lambda: provider.create_invoice(request))

    deadline = time.monotonic() + settings.PROVIDER_FAILOVER_BUDGET
    failures: list[str] = []
    for number, candidate in enumerate(candidates, start=1):
        remaining = deadline - time.monotonic()
        if remaining < MIN_TRY_SECONDS:
            failures.append(f"{candidate.provider}: not tried, no time left")
            break
        if payment.provider != candidate.provider and not _payment_switch(payment, candidate):
            break  # moved on by a postback meanwhile: nothing more to ask for
        left = len(candidates) - number + 1
        share = remaining if left == 1 else remaining / left
        create = functools.partial(
            get_provider(candidate.provider).create_invoice, invoice_request(payment)
        )
        started = time.monotonic()
        try:
            with provider_timeout_capped(share):
                invoice = provider_call(candidate.provider, create)
        except ProviderError as exc:
            _attempt_record(payment, number=number, outcome=exc.kind, started=started)
            if exc.permanent:
                raise
            failures.append(f"{candidate.provider}: {exc.message}")
            continue
        _attempt_record(payment, number=number, outcome="ok", started=started)
        return invoice
    raise ProviderError(
        "No provider could take the payment (" + "; ".join(failures) + ").", kind="unavailable"
    )
