"""Item 6: a body that is not UTF-8 is a JSON 400, never a 500."""

from __future__ import annotations

import pytest

from tests.hostile.conftest import assert_error_shape

pytestmark = pytest.mark.django_db

NOT_UTF8 = b'{"paymentId": "\xff\xfe\xfa"}'


@pytest.mark.parametrize("provider", ["sandbox", "tele", "bansky"])
def test_non_utf8_body_to_a_postback_route_is_a_json_400(client, provider):
    response = client.post(
        f"/api/payment-verify/{provider}",
        data=NOT_UTF8,
        content_type="application/json",
        headers={
            "webhook-id": "msg_1",
            "webhook-timestamp": "1700000000",
            "webhook-signature": "v1,AAAA",
        },
    )

    assert_error_shape(response, 400)


def test_non_utf8_body_to_the_api_is_a_json_400(api):
    response = api.generic(
        "POST", "/api/v1/init-payment", NOT_UTF8, content_type="application/json"
    )

    data = assert_error_shape(response, 400)
    assert data["code"] == "malformed_json"


@pytest.mark.parametrize("signature", ["v1", "v1,a,b", "v1,@@@", "v1,AAA"])
def test_malformed_standard_webhooks_signature_headers_are_a_json_400(client, signature):
    response = client.post(
        "/api/payment-verify/sandbox",
        data=b"{}",
        content_type="application/json",
        headers={"webhook-id": "m", "webhook-timestamp": "1", "webhook-signature": signature},
    )

    assert_error_shape(response, 400)


def test_non_ascii_hex_signature_is_a_json_400(client):
    response = client.post(
        "/api/payment-verify/bansky",
        data=b"{}",
        content_type="application/json",
        headers={"X-Bansky-Signature": "caf\u00e9"},
    )

    assert_error_shape(response, 400)
