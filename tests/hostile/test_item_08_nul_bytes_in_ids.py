"""Item 8: a NUL byte in an id never reaches PostgreSQL (which answers it with an error)."""

from __future__ import annotations

import json

import pytest

from payments.models import Payment, PaymentEvent, PaymentStatus
from payments.selectors import payment_get_by_public_id
from tests.hostile.conftest import assert_error_shape, signed_post

pytestmark = pytest.mark.django_db


def test_nul_payment_id_in_the_api_path_is_a_json_404(api):
    response = api.get("/api/v1/payments/%00")

    assert_error_shape(response, 404)


def test_nul_payment_id_in_resend_is_a_json_404(api):
    response = api.post("/api/v1/payments/pay_%00x/postbacks/resend")

    assert_error_shape(response, 404)


def test_nul_in_an_api_filter_is_a_json_400(api):
    response = api.get("/api/v1/payments?id=%00")

    assert_error_shape(response, 400)


@pytest.mark.parametrize(
    "path",
    [
        "/integration/pay?id=%00",
        "/integration/success?id=%00",
        "/integration/error?id=%00",
        "/integration/status?id=%00",
        "/integration/status.json?id=%00",
        "/integration/pay?id=pay_abc%00def",
        "/sandbox/pay/%00",
        "/sandbox/pay/sbx_%00abc",
    ],
)
def test_nul_in_a_shopper_route_id_is_a_404(client, path):
    response = client.get(path)

    assert response.status_code == 404


@pytest.mark.parametrize("value", ["pay_\x00", "", "x" * 65, "pay_ä", "pay_a b", "pay_a/b", None])
def test_the_selector_treats_what_cannot_be_an_id_as_a_miss(value):
    assert payment_get_by_public_id(public_id=value) is None


@pytest.mark.parametrize("provider", ["sandbox", "tele", "bansky"])
def test_nul_inside_a_signed_postbacks_ids_is_refused(client, provider, pending_payments):
    payment = pending_payments[provider]
    payload = {
        "sandbox": {"paymentId": payment.public_id + "\x00", "outcome": "success"},
        "tele": {"partnerInfo": {"id": payment.public_id + "\x00"}, "status": "paid"},
        "bansky": {"id": payment.public_id + "\x00", "status": "success"},
    }[provider]
    payload["eventId"] = "evt\x00"

    response = signed_post(client, provider, json.dumps(payload).encode())

    assert response.status_code == 200  # well-signed: refused without a retry loop
    assert response.json()["code"] == "malformed"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING
    stored = PaymentEvent.objects.get()
    assert "\\u0000" not in json.dumps(stored.payload)


def test_nul_in_the_waiting_pages_poll_is_a_json_404(client):
    response = client.get("/integration/status.json?id=%00")

    assert_error_shape(response, 404)


def test_nul_in_a_portal_query_is_a_404_not_a_500(client):
    response = client.get("/portal/payments?q=%00")

    assert response.status_code == 404


def test_nul_in_the_json_404_shape_under_api(client):
    response = client.get("/api/v1/%00")

    assert_error_shape(response, 404)


INIT = (
    '{"amount": "10", "currency": "USD", "successUrl": "https://shop.example/ok",'
    ' "errorUrl": "https://shop.example/ko", %s}'
)


@pytest.mark.parametrize("escape", ["\\u0000", "\\ud800"])
@pytest.mark.parametrize("field", ["customerName", "id", "customerEmail"])
def test_nul_or_a_lone_surrogate_in_an_init_payment_field_is_a_field_error(api, field, escape):
    body = INIT % f'"{field}": "x{escape}y"'

    response = api.generic("POST", "/api/v1/init-payment", body, content_type="application/json")

    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not Payment.objects.exists()


def test_nul_in_a_field_the_api_ignores_does_not_refuse_the_request(api):
    body = INIT % '"extra": "\\u0000"'

    response = api.generic("POST", "/api/v1/init-payment", body, content_type="application/json")

    assert response.status_code == 201


@pytest.mark.parametrize("key", ["k\x00", "\x00"])
def test_an_idempotency_key_with_a_nul_is_a_field_error(api, key):
    body = INIT % '"id": "o-9"'

    response = api.generic(
        "POST",
        "/api/v1/init-payment",
        body,
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY=key,
    )

    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["errors"]
    assert not Payment.objects.exists()
