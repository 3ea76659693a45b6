"""Item 14: duplicate keys in a JSON body are a 400 rather than "the last one wins"."""

from __future__ import annotations

import pytest

from payments.models import Payment, PaymentStatus
from tests.hostile.conftest import assert_error_shape, signed_post

pytestmark = pytest.mark.django_db

DUPLICATE_AMOUNT = (
    b'{"id": "o-1", "amount": "1", "amount": "1000", "currency": "USD", '
    b'"successUrl": "https://shop.example/ok", "errorUrl": "https://shop.example/ko"}'
)


def test_duplicate_keys_to_init_payment_are_a_json_400(api):
    response = api.generic(
        "POST", "/api/v1/init-payment", DUPLICATE_AMOUNT, content_type="application/json"
    )

    data = assert_error_shape(response, 400)
    assert data["code"] == "malformed_json"
    assert "duplicate key 'amount'" in data["message"]
    assert not Payment.objects.exists()


def test_duplicate_nested_keys_to_the_test_postback_are_a_json_400(api):
    body = b'{"url": "https://shop.example/a", "x": {"k": 1, "k": 2}}'

    response = api.generic("POST", "/api/v1/postbacks/test", body, content_type="application/json")

    assert_error_shape(response, 400)


@pytest.mark.parametrize("provider", ["sandbox", "tele", "bansky"])
def test_signed_postback_with_duplicate_keys_is_refused(client, provider, pending_payments):
    payment = pending_payments[provider]
    body = {
        "sandbox": '{"paymentId": "%s", "outcome": "failure", "outcome": "success"}',
        "tele": '{"partnerInfo": {"id": "%s"}, "status": "failed", "status": "paid"}',
        "bansky": '{"id": "%s", "status": "failed", "status": "success"}',
    }[provider] % payment.public_id

    response = signed_post(client, provider, body.encode())

    assert response.status_code == 200
    assert response.json()["code"] == "malformed"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING
