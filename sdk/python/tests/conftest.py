"""The SDK's tests. Run from this folder (`python -m pytest`), never from the gateway's root."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time

import pytest


@pytest.fixture
def secret() -> str:
    return "whsec_" + base64.b64encode(os.urandom(24)).decode()


def sign(*, secret: str, msg_id: str, timestamp: int, body: str) -> str:
    """Sign with hashlib/hmac directly: independent of the `standardwebhooks` library."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_postback(*, secrets: list[str], payload: dict, timestamp: int | None = None):
    timestamp = int(time.time()) if timestamp is None else timestamp
    body = json.dumps(payload)
    signature = " ".join(
        sign(secret=s, msg_id="msg_test1", timestamp=timestamp, body=body) for s in secrets
    )
    headers = {
        "webhook-id": "msg_test1",
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
    }
    return body, headers


SAMPLE = {
    "event": "payment.succeeded",
    "id": "order-1",
    "paymentId": "pay_abc",
    "status": "succeeded",
    "amount": "25.00",
    "currency": "USD",
    "createdAt": "2026-01-01T00:00:00Z",
    "updatedAt": "2026-01-01T00:01:00Z",
}
