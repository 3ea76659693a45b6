"""The demo shop verifies the postbacks it receives, like a real merchant should."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook

from tests.factories import MerchantFactory

pytestmark = pytest.mark.django_db


def signed(secret: str, payload: dict) -> tuple[bytes, dict]:
    body = json.dumps(payload).encode()
    now = datetime.now(tz=UTC)
    headers = {
        "HTTP_WEBHOOK_ID": "msg_1",
        "HTTP_WEBHOOK_TIMESTAMP": str(int(now.timestamp())),
        "HTTP_WEBHOOK_SIGNATURE": Webhook(secret).sign("msg_1", now, body.decode()),
    }
    return body, headers


def test_demo_shop_records_a_verified_postback_and_shows_it(client, settings):
    settings.SANDBOX_ENABLED = True
    merchant = MerchantFactory(slug=settings.DEMO_MERCHANT_SLUG)
    body, headers = signed(
        merchant.postback_secret,
        {"id": "demo-1", "event": "payment.succeeded", "status": "succeeded"},
    )

    response = client.post("/demo/postback", body, content_type="application/json", **headers)
    page = client.get("/demo/success?order=demo-1").content.decode()

    assert response.status_code == 200
    assert "payment.succeeded" in page and "verified" in page


def test_demo_shop_refuses_a_forged_postback(client, settings):
    settings.SANDBOX_ENABLED = True
    MerchantFactory(slug=settings.DEMO_MERCHANT_SLUG)
    body, headers = signed("whsec_" + "QUJD" * 8, {"id": "demo-1", "event": "payment.succeeded"})

    response = client.post("/demo/postback", body, content_type="application/json", **headers)

    assert response.status_code == 400
    assert "payment.succeeded" not in client.get("/demo/success?order=demo-1").content.decode()


def test_demo_shop_is_hidden_when_the_sandbox_is_off(client, settings):
    settings.SANDBOX_ENABLED = False
    assert client.get("/demo/").status_code == 404
