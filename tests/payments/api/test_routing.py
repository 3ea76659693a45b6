"""Routing and failover in init-payment (payments/routing.py), providers mocked with `responses`.

The real-process version (two provider stubs on loopback, a gunicorn server) is
tests/payments/api/test_failover_live.py.
"""

from __future__ import annotations

import json
from decimal import Decimal
from io import StringIO

import pytest
import requests
import responses
from django.core.management import CommandError, call_command

from payments.merchants import MerchantError, merchant_create, merchant_routing_set
from payments.models import AuditEntry, EventType, Merchant, Payment, PaymentStatus
from payments.routing import merchant_routes
from providers.breaker import provider_breaker
from tests.factories import ExchangeRateFactory
from tests.payments.api.test_init_payment import BANSKY_URL, BODY, TELE_URL, client_for, post

pytestmark = pytest.mark.django_db


@pytest.fixture
def routed(db):
    """A merchant routed tele, then bansky, with a USD rate for Tele's conversion."""
    ExchangeRateFactory(currency="USD", rate_to_tusd=Decimal("1.2500000000"))
    return merchant_create(slug="routed", name="Routed", routes=["tele", "bansky"], actor="test")


def _tele_ok():
    responses.post(TELE_URL, json={"url": "https://t.me/pay/1", "invoiceId": "T-1"})


def _bansky_ok():
    responses.post(BANSKY_URL, json={"url": "https://pay.bansky.example/b/1", "reference": "B-1"})


@responses.activate
def test_the_first_provider_takes_the_payment_when_it_works(routed):
    _tele_ok()

    response = post(client_for(routed), BODY)

    assert response.status_code == 201
    payment = Payment.objects.get(public_id=response.json()["id"])
    assert (payment.provider, payment.provider_url) == ("tele", "https://t.me/pay/1")
    assert (payment.provider_amount, payment.provider_currency) == (Decimal("125.00"), "TUSD")
    assert len(responses.calls) == 1
    attempts = payment.events.filter(type=EventType.PROVIDER_ATTEMPT)
    assert [(e.payload["provider"], e.payload["outcome"]) for e in attempts] == [("tele", "ok")]


@responses.activate
@pytest.mark.parametrize(
    ("tele_reply", "outcome"),
    [
        ({"status": 500}, "refused"),
        ({"status": 503}, "unavailable"),
        ({"body": requests.ConnectionError("refused")}, "unavailable"),
        ({"body": requests.ReadTimeout("slow")}, "timeout"),
    ],
)
def test_a_failing_first_provider_hands_the_payment_to_the_next(routed, tele_reply, outcome):
    responses.post(TELE_URL, **tele_reply)
    _bansky_ok()

    response = post(client_for(routed), BODY)

    assert response.status_code == 201, response.json()
    payment = Payment.objects.get(public_id=response.json()["id"])
    assert payment.status == PaymentStatus.PENDING
    assert (payment.provider, payment.provider_reference) == ("bansky", "B-1")
    assert payment.provider_url == "https://pay.bansky.example/b/1"
    # Conversion follows the provider used: Bansky bills the merchant's own amount.
    assert (payment.provider_amount, payment.provider_currency, payment.exchange_rate) == (
        None,
        "",
        None,
    )
    sent = json.loads(responses.calls[1].request.body)
    assert sent["postbackUrl"] == "https://gate.example/api/payment-verify/bansky"
    assert sent["amount"] == 100 and sent["currency"] == "USD"
    attempts = list(payment.events.filter(type=EventType.PROVIDER_ATTEMPT).order_by("occurred_at"))
    assert [(e.provider, e.payload["outcome"]) for e in attempts] == [
        ("tele", outcome),
        ("bansky", "ok"),
    ]
    assert all(isinstance(e.payload["durationMs"], int) for e in attempts)
    invoice_event = payment.events.get(type=EventType.INVOICE_CREATED)
    assert invoice_event.provider == "bansky"


@responses.activate
def test_an_open_breaker_is_skipped_without_calling_the_provider(routed):
    breaker = provider_breaker("tele")
    breaker.state, breaker.opened_at = "open", breaker.clock()
    _bansky_ok()

    response = post(client_for(routed), BODY)

    assert response.status_code == 201
    assert [c.request.url for c in responses.calls] == [BANSKY_URL]
    assert Payment.objects.get().provider == "bansky"


@responses.activate
def test_every_provider_down_is_a_503_and_the_payment_is_kept_as_provider_error(routed):
    responses.post(TELE_URL, status=502)
    responses.post(BANSKY_URL, body=requests.ConnectionError("refused"))

    response = post(client_for(routed), BODY)

    assert response.status_code == 503
    assert response.json()["code"] == "provider_unavailable"
    payment = Payment.objects.get()
    assert payment.status == PaymentStatus.PROVIDER_ERROR
    assert (payment.provider_url, payment.provider_reference) == ("", "")
    assert payment.events.filter(type=EventType.PROVIDER_ATTEMPT).count() == 2


@responses.activate
def test_a_permanent_refusal_is_not_sent_to_another_provider(routed):
    responses.post(TELE_URL, status=422, json={"error": "bad"})

    response = post(client_for(routed), BODY)

    assert response.status_code == 502
    assert len(responses.calls) == 1
    assert Payment.objects.get().status == PaymentStatus.PROVIDER_ERROR


@responses.activate
def test_rules_pick_the_candidates_by_currency_type_and_amount(db):
    merchant = merchant_create(
        slug="rules",
        name="Rules",
        routes=["bansky currency=BTC type=crypto", "bansky amount=..50", "tele"],
        actor="test",
    )
    ExchangeRateFactory(currency="USD", rate_to_tusd=Decimal(1))
    _bansky_ok()
    _tele_ok()
    client = client_for(merchant)

    small = post(client, {**BODY, "id": "small", "amount": 20})
    large = post(client, {**BODY, "id": "large", "amount": 200})

    assert Payment.objects.get(public_id=small.json()["id"]).provider == "bansky"
    assert Payment.objects.get(public_id=large.json()["id"]).provider == "tele"


@pytest.mark.parametrize(
    ("routes", "body", "field"),
    [
        (["bansky currency=EUR"], {"currency": "USD"}, "currency"),
        (["bansky type=crypto"], {"currency": "USD"}, "type"),
        (["bansky amount=1000.."], {"currency": "USD"}, "amount"),
        (["bansky"], {"currency": "TeleUSD"}, "currency"),
        (["bansky", "tele currency=EUR"], {"customerEmail": ""}, "customerEmail"),
    ],
)
def test_a_payment_no_candidate_takes_is_a_400_naming_the_field(db, routes, body, field):
    merchant = merchant_create(slug="narrow", name="Narrow", routes=routes, actor="test")

    response = post(client_for(merchant), {**BODY, **body})

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert field in response.json()["errors"]
    assert not Payment.objects.exists()


@responses.activate
def test_a_candidate_that_cannot_take_the_payment_is_skipped(db):
    # Tele needs a TUSD rate for EUR; there is none, so Bansky takes it without a try at Tele.
    merchant = merchant_create(slug="norate", name="No rate", routes=["tele", "bansky"])
    _bansky_ok()

    response = post(client_for(merchant), {**BODY, "currency": "EUR"})

    assert response.status_code == 201
    assert Payment.objects.get().provider == "bansky"
    assert [c.request.url for c in responses.calls] == [BANSKY_URL]


def test_test_payments_of_a_routed_merchant_use_the_sandbox(routed):
    response = post(client_for(routed, mode="test"), BODY)

    assert response.status_code == 201
    assert Payment.objects.get().provider == "sandbox"


# ---- the services, CLI and admin -----------------------------------------------------------


@pytest.mark.parametrize(
    ("routes", "message"),
    [
        ([], "at least one provider"),
        (["paypal"], "unknown provider 'paypal'"),
        (["bansky currency=ZZZ"], "unknown currency"),
        (["bansky type=cash"], "unknown payment type"),
        (["bansky amount=50..10"], "is empty"),
        (["bansky colour=red"], "cannot read"),
        (["bansky currency=TUSD"], "does not take TeleUSD"),
    ],
)
def test_bad_routing_is_refused_with_a_clear_message(db, routes, message):
    merchant = merchant_create(slug="m", name="M", provider="tele")

    with pytest.raises(MerchantError, match=message):
        merchant_routing_set(merchant=merchant, routes=routes, actor="test")

    merchant.refresh_from_db()
    assert (merchant.provider, merchant.routing) == ("tele", [])


def test_routing_changes_are_audited_with_old_and_new(db):
    merchant = merchant_create(slug="m", name="M", provider="tele")

    merchant = merchant_routing_set(merchant=merchant, routes=["bansky", "tele"], actor="staff:x")

    assert merchant.provider == "bansky"
    entry = AuditEntry.objects.get(action="merchant.routing")
    assert entry.actor == "staff:x"
    assert entry.changes == {"routing": {"old": ["tele"], "new": ["bansky", "tele"]}}


def test_cli_takes_repeated_providers_in_order_and_changes_them_later(db):
    call_command("create_merchant", "shop", "--name", "Shop", "--provider", "tele",
                 "--provider", "bansky", stdout=StringIO())  # fmt: skip
    merchant = Merchant.objects.get(slug="shop")
    assert [r.provider for r in merchant_routes(merchant)] == ["tele", "bansky"]

    call_command("set_routing", "shop", "--route", "bansky currency=EUR", "--provider", "tele",
                 stdout=StringIO())  # fmt: skip

    merchant.refresh_from_db()
    assert [r.as_line() for r in merchant_routes(merchant)] == ["bansky currency=EUR", "tele"]
    assert merchant.provider == "bansky"


@pytest.mark.parametrize("args", [("--provider", "paypal"), ("--route", "bansky currency=ZZZ"), ()])
def test_cli_refuses_bad_routing(db, args):
    Merchant.objects.create(slug="shop", name="Shop", provider="tele", postback_secret="x")
    with pytest.raises(CommandError):
        call_command("set_routing", "shop", *args)


def test_admin_edits_routing_through_the_service(admin_client, db):
    merchant = merchant_create(slug="m", name="M", provider="tele")
    form = {"name": "M", "provider": "tele", "is_active": "on", "allowed_return_hosts": "",
            "routing_rules": "tele\nbansky currency=USD,EUR", "tokens-TOTAL_FORMS": "0",
            "tokens-INITIAL_FORMS": "0"}  # fmt: skip

    response = admin_client.post(f"/admin/payments/merchant/{merchant.pk}/change/", form)

    assert response.status_code == 302, response.content.decode()[:2000]
    merchant.refresh_from_db()
    assert [r.as_line() for r in merchant_routes(merchant)] == ["tele", "bansky currency=USD,EUR"]
    assert AuditEntry.objects.filter(action="merchant.routing", actor="staff:admin").exists()


def test_admin_shows_a_bad_routing_line_as_a_form_error(admin_client, db):
    merchant = merchant_create(slug="m", name="M", provider="tele")
    form = {"name": "M", "provider": "tele", "is_active": "on", "allowed_return_hosts": "",
            "routing_rules": "tele\npaypal", "tokens-TOTAL_FORMS": "0",
            "tokens-INITIAL_FORMS": "0"}  # fmt: skip

    response = admin_client.post(f"/admin/payments/merchant/{merchant.pk}/change/", form)

    assert response.status_code == 200
    assert "unknown provider" in response.content.decode()
    merchant.refresh_from_db()
    assert merchant.routing == []
