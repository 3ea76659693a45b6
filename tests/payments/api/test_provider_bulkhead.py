"""init-payment behind the provider's circuit breaker: fail fast, keep the payment, recover."""

from __future__ import annotations

import pytest
import requests
import responses

from payments.models import Payment, PaymentStatus
from providers.breaker import provider_breaker
from tests.factories import MerchantFactory, make_token

BANSKY_URL = "https://bansky.example/v1/payments"
BODY = {
    "customerEmail": "alice@example.com",
    "amount": "10.00",
    "currency": "USD",
    "successUrl": "https://shop.example/success",
    "errorUrl": "https://shop.example/error",
}


@pytest.fixture
def bansky_api(db, settings):
    settings.PROVIDER_BREAKER_FAILURES = 3
    settings.PROVIDER_BREAKER_RESET = 30.0
    merchant = MerchantFactory(slug="aimbrella", provider="bansky")
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {make_token(merchant=merchant)[1]}")
    return client


def _init(api):
    return api.post("/api/v1/init-payment", BODY, format="json")


@responses.activate
def test_a_hanging_provider_opens_the_breaker_and_then_init_fails_fast_without_calling_it(
    bansky_api,
):
    responses.post(BANSKY_URL, body=requests.ReadTimeout("hangs"))
    for _ in range(3):
        assert _init(bansky_api).status_code == 504

    response = _init(bansky_api)

    assert response.status_code == 503
    assert response.json()["code"] == "provider_unavailable"
    assert len(responses.calls) == 3  # the fourth never reached the provider
    assert Payment.objects.count() == 4
    assert set(Payment.objects.values_list("status", flat=True)) == {PaymentStatus.PROVIDER_ERROR}


@responses.activate
def test_the_half_open_probe_closes_the_breaker_when_the_provider_recovers(bansky_api):
    responses.post(BANSKY_URL, status=503)
    for _ in range(3):
        _init(bansky_api)
    breaker = provider_breaker("bansky")
    assert breaker.snapshot()["state"] == "open"
    # given: the reset period has passed and the provider is back
    breaker.opened_at -= 30
    responses.replace(responses.POST, BANSKY_URL, json={"url": "https://pay.bansky.example/p/1"})

    response = _init(bansky_api)

    assert response.status_code == 201
    assert breaker.snapshot()["state"] == "closed"


@responses.activate
def test_healthz_shows_an_open_breaker_and_stays_200(bansky_api, client):
    responses.post(BANSKY_URL, body=requests.ConnectionError("down"))
    for _ in range(3):
        _init(bansky_api)

    response = client.get("/healthz")

    # an open breaker is the provider's outage, not this instance's: liveness stays 200
    assert response.status_code == 200
    assert response.json()["providers"]["bansky"]["state"] == "open"
