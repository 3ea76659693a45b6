"""Item 7: 100,000 levels of nesting is a 400 (RecursionError caught), not a 500."""

from __future__ import annotations

import pytest

from payments.models import PaymentStatus
from tests.hostile.conftest import assert_error_shape, signed_post

pytestmark = pytest.mark.django_db

DEEP = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJECT = b'{"a":' * 100_000 + b"1" + b"}" * 100_000


@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT], ids=["array", "object"])
@pytest.mark.parametrize("path", ["/api/v1/init-payment", "/api/v1/postbacks/test"])
def test_deeply_nested_json_to_the_api_is_a_json_400(api, path, body):
    response = api.generic("POST", path, body, content_type="application/json")

    data = assert_error_shape(response, 400)
    assert data["code"] == "malformed_json"


@pytest.mark.parametrize("provider", ["sandbox", "tele", "bansky"])
def test_deeply_nested_signed_postback_is_refused_without_a_retry_loop(
    client, provider, pending_payments
):
    response = signed_post(client, provider, DEEP)

    # Well-signed, so answered 200 (providers retry every other answer), but refused.
    assert response.status_code == 200
    assert response.json()["status"] == "error"
    assert response.json()["code"] == "malformed"
    payment = pending_payments[provider]
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING


@pytest.mark.parametrize("provider", ["sandbox", "tele", "bansky"])
def test_deeply_nested_unsigned_postback_is_a_json_400(client, provider):
    response = client.post(
        f"/api/payment-verify/{provider}", data=DEEP, content_type="application/json"
    )

    assert_error_shape(response, 400)
