"""Item 1: test and live are separate worlds; a payment of the other mode is a 404."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from payments.delivery.outbox import delivery_enqueue
from payments.models import PostbackDelivery, TokenMode
from tests.factories import PaymentFactory, make_token

pytestmark = pytest.mark.django_db


def client_for(merchant, mode: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {make_token(merchant=merchant, mode=mode)[1]}")
    return client


@pytest.fixture
def worlds(merchant):
    live = PaymentFactory(merchant=merchant, is_test=False, status="succeeded")
    test = PaymentFactory(merchant=merchant, is_test=True, status="succeeded")
    return live, test


@pytest.mark.parametrize("mode", [TokenMode.TEST, TokenMode.LIVE])
def test_a_token_cannot_read_a_payment_of_the_other_mode(merchant, worlds, mode):
    live, test = worlds
    other = live if mode == TokenMode.TEST else test
    mine = test if mode == TokenMode.TEST else live
    api = client_for(merchant, mode)

    assert api.get(f"/api/v1/payments/{mine.public_id}").status_code == 200
    response = api.get(f"/api/v1/payments/{other.public_id}")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("mode", [TokenMode.TEST, TokenMode.LIVE])
def test_a_token_lists_only_payments_of_its_own_mode(merchant, worlds, mode):
    live, test = worlds
    mine = test if mode == TokenMode.TEST else live

    data = client_for(merchant, mode).get("/api/v1/payments").json()

    assert [row["paymentId"] for row in data["results"]] == [mine.public_id]
    assert {row["test"] for row in data["results"]} == {mode == TokenMode.TEST}


def test_a_test_token_cannot_resend_a_live_payments_postback(merchant, worlds):
    live, _test = worlds
    delivery_enqueue(payment=live, event="payment.succeeded")
    before = PostbackDelivery.objects.filter(payment=live).count()

    response = client_for(merchant, TokenMode.TEST).post(
        f"/api/v1/payments/{live.public_id}/postbacks/resend"
    )

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert PostbackDelivery.objects.filter(payment=live).count() == before
    delivery = PostbackDelivery.objects.get(payment=live)
    assert delivery.attempt_count == 0


def test_a_live_token_cannot_resend_a_test_payments_postback(merchant, worlds):
    _live, test = worlds
    delivery_enqueue(payment=test, event="payment.succeeded")

    response = client_for(merchant, TokenMode.LIVE).post(
        f"/api/v1/payments/{test.public_id}/postbacks/resend"
    )

    assert response.status_code == 404
