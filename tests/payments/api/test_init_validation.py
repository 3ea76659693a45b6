"""What init-payment refuses, and how: field rules, JSON, content types, sizes."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.test import override_settings

from payments.api.inputs import InitPaymentInput
from payments.models import Payment
from tests.payments.api.test_init_payment import BODY, post

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount": 0}, "amount"),
        ({"amount": -5}, "amount"),
        ({"amount": "abc"}, "amount"),
        ({"amount": True}, "amount"),
        ({"amount": "1.001"}, "amount"),
        ({"amount": "1234567890123"}, "amount"),
        ({"currency": "JPY", "amount": "10.5"}, "amount"),
        ({"currency": "ABC"}, "currency"),
        ({"currency": "XAU"}, "currency"),
        ({"currency": "USD", "type": "crypto"}, "type"),
        ({"type": "cash"}, "type"),
        ({"customerEmail": "not-an-email"}, "customerEmail"),
        ({"customerName": "x" * 257}, "customerName"),
        ({"id": "x" * 129}, "id"),
        ({"successUrl": "ftp://shop.example/x"}, "successUrl"),
        ({"successUrl": "/relative"}, "successUrl"),
        ({"errorUrl": "http://shop.example/plain-http"}, "errorUrl"),
        ({"postbackUrl": "javascript:alert(1)"}, "postbackUrl"),
        ({"postbackUrl": "https://93.184.216.34/pb"}, "postbackUrl"),
        ({"successUrl": "https://user:pass@shop.example/x"}, "successUrl"),
        ({"successUrl": " https://shop.example/x"}, "successUrl"),
        ({"successUrl": "https://shop.example/a b"}, "successUrl"),
        ({"errorUrl": "https://shop.example/\nSet-Cookie:x"}, "errorUrl"),
        ({"successUrl": None}, "successUrl"),
    ],
)
def test_invalid_fields_are_400_with_the_field_named(api, change, field):
    response = post(api, {**BODY, **change})

    assert response.status_code == 400
    body = response.json()
    assert body["status"] == "error"
    assert body["code"] == "validation_error"
    assert field in body["errors"]
    assert not Payment.objects.exists()


def test_missing_required_fields_are_listed(api):
    response = post(api, {})

    assert response.status_code == 400
    assert {"amount", "successUrl", "errorUrl"} <= set(response.json()["errors"])


def test_currency_is_required_for_merchants_without_a_default(api):
    response = post(api, {k: v for k, v in BODY.items() if k != "currency"})

    assert response.status_code == 400
    assert "currency" in response.json()["errors"]


def test_currency_rules_accept_crypto_with_eight_digits_and_minor_units(api):
    ok = post(api, {**BODY, "id": "c1", "currency": "BTC", "amount": "0.00012345"})
    jpy = post(api, {**BODY, "id": "c2", "currency": "jpy", "amount": 500})
    kwd = post(api, {**BODY, "id": "c3", "currency": "KWD", "amount": "1.125"})

    assert (ok.status_code, jpy.status_code, kwd.status_code) == (201, 201, 201)
    assert Payment.objects.get(merchant_reference="c1").payment_type == "crypto"
    assert Payment.objects.get(merchant_reference="c2").currency == "JPY"


def test_amount_keeps_its_exact_decimal_value(api):
    response = post(api, {**BODY, "amount": 0.1})
    assert Payment.objects.get(public_id=response.json()["id"]).amount == Decimal("0.1")


@override_settings(DEBUG=True)
def test_plain_http_urls_are_accepted_when_debug_is_on(api):
    response = post(api, {**BODY, "successUrl": "http://shop.example/ok"})
    assert response.status_code == 201


def test_return_urls_must_be_on_allowed_hosts_when_configured(merchant, api):
    merchant.allowed_return_hosts = "shop.example"
    merchant.save()

    bad = post(api, {**BODY, "errorUrl": "https://evil.example/x"})
    good = post(api, {**BODY, "id": "ok"})

    assert bad.status_code == 400 and "errorUrl" in bad.json()["errors"]
    assert good.status_code == 201


def test_unknown_fields_are_ignored(api):
    response = post(api, {**BODY, "favouriteColour": "green"})
    assert response.status_code == 201


def test_malformed_json_is_a_json_400(api):
    response = api.post("/api/v1/init-payment", "{not json", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == "malformed_json"


def test_nan_is_not_a_number_we_take(api):
    raw = json.dumps(BODY).replace('"amount": 100', '"amount": NaN')
    response = api.post("/api/v1/init-payment", raw, content_type="application/json")

    assert response.status_code == 400


def test_wrong_content_type_is_415(api):
    response = api.post(
        "/api/v1/init-payment", "amount=1", content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


def test_body_over_one_megabyte_is_413(api):
    raw = json.dumps({**BODY, "padding": "x" * (1024 * 1024)})
    response = api.post("/api/v1/init-payment", raw, content_type="application/json")

    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


def test_the_input_fields_are_built_once_and_bound_to_no_request():
    # given two requests' inputs, one valid and one not
    first = InitPaymentInput(data={**BODY, "amount": "10.00"})
    second = InitPaymentInput(data={**BODY, "amount": "-1"})

    # when both are validated
    assert first.is_valid()
    assert not second.is_valid()

    # then they share one set of fields (DRF would deep-copy them per instance), whose
    # parent holds neither request's data, and each kept its own answer
    assert first.fields is second.fields
    parent = first.fields["amount"].parent
    assert parent is not first and parent is not second
    assert not hasattr(parent, "initial_data")
    assert first.validated_data["amount"] == Decimal("10.00")
    assert second.errors == {"amount": ["Must be a decimal number greater than 0."]}
