"""Shared helpers for the hostile-input tests: signed provider postbacks of any body."""

from __future__ import annotations

import hashlib
import hmac
import time

import pytest

from tests.factories import MerchantFactory, PaymentFactory

TELE_SECRET = "tele-postback-secret-test"
BANSKY_SECRET = "bansky-postback-secret-test"


def tele_headers(body: bytes) -> dict[str, str]:
    ts = str(int(time.time()))
    sig = hmac.new(TELE_SECRET.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"X-Tele-Timestamp": ts, "X-Tele-Signature": f"sha256={sig}"}


def bansky_headers(body: bytes) -> dict[str, str]:
    sig = hmac.new(BANSKY_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Bansky-Signature": sig}


def sandbox_headers(body: bytes) -> dict[str, str]:
    from datetime import UTC, datetime

    from standardwebhooks import Webhook

    from providers.sandbox import sandbox_secret

    now = datetime.now(tz=UTC)
    signature = Webhook(sandbox_secret()).sign("msg_hostile", now, body.decode("utf-8"))
    return {
        "webhook-id": "msg_hostile",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }


SIGNERS = {"tele": tele_headers, "bansky": bansky_headers, "sandbox": sandbox_headers}


def signed_post(client, provider: str, body: bytes):
    """POST `body` to the provider's postback route, correctly signed for it."""
    headers = SIGNERS[provider](body)
    return client.post(
        f"/api/payment-verify/{provider}",
        data=body,
        content_type="application/json",
        headers=headers,
    )


@pytest.fixture
def pending_payments(db):
    """One pending payment per provider, keyed by provider."""
    return {
        key: PaymentFactory(merchant=MerchantFactory(provider=key), provider=key) for key in SIGNERS
    }


def assert_error_shape(response, status: int | None = None) -> dict:
    """A JSON error with the documented keys (status, code, message)."""
    if status is not None:
        assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    data = response.json()
    assert data["status"] == "error"
    assert data["code"]
    assert data["message"]
    return data
