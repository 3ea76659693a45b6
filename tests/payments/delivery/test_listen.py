"""The copy of test-mode postbacks for `apaygate listen` (payments/delivery/listen.py), and
the stream route's refusals under plain Django (payments/api/postback_stream.py).

The stream itself, on the production web server with a real worker and both SDKs'
commands, is tested in tests/sdk/test_listen.py.
"""

from __future__ import annotations

import json

import pytest
from django.test import Client

from payments import kv
from payments.delivery.listen import stream_key
from payments.delivery.send import postback_send
from payments.delivery.wire import webhook_id_generate
from payments.models import TokenMode
from tests.factories import MerchantFactory, make_token

PAYLOAD = {
    "event": "payment.succeeded",
    "id": "order-1",
    "paymentId": "pay_listen",
    "status": "succeeded",
    "amount": "10.00",
    "currency": "USD",
    "createdAt": "2026-01-01T00:00:00Z",
    "updatedAt": "2026-01-01T00:00:01Z",
}


def _streamed(merchant) -> list[dict]:
    entries = kv.kv_run(lambda client: client.xrange(stream_key(merchant.pk)))
    return [{k.decode(): v.decode() for k, v in fields.items()} for _id, fields in entries]


@pytest.fixture
def private_allowed(settings):
    settings.POSTBACK_ALLOW_PRIVATE = True


def test_a_test_postback_is_streamed_with_the_exact_body_and_headers_it_was_sent_with(
    db, receiver, private_allowed
):
    merchant = MerchantFactory()

    result = postback_send(
        merchant=merchant,
        url=receiver.url,
        webhook_id=webhook_id_generate(),
        payload=PAYLOAD,
        test=True,
    )

    assert result.succeeded
    (sent,) = receiver.requests
    (entry,) = _streamed(merchant)
    headers = json.loads(entry["headers"])
    assert entry["body"].encode() == sent.body
    assert entry["event"] == "payment.succeeded" and entry["paymentId"] == "pay_listen"
    for name in ("webhook-id", "webhook-timestamp", "webhook-signature"):
        assert headers[name] == sent.headers[name]
    ttl = kv.kv_run(lambda client: client.ttl(stream_key(merchant.pk)))
    assert 0 < ttl <= 3600  # the stream disappears when nobody uses it


def test_a_live_postback_is_never_streamed(db, receiver, private_allowed):
    merchant = MerchantFactory()

    postback_send(
        merchant=merchant, url=receiver.url, webhook_id=webhook_id_generate(), payload=PAYLOAD
    )

    assert len(receiver.requests) == 1
    assert _streamed(merchant) == []


def test_the_stream_keeps_a_bounded_number_of_postbacks(db, receiver, private_allowed, settings):
    settings.POSTBACK_STREAM_KEEP = 3
    merchant = MerchantFactory()

    for _ in range(250):  # XADD's approximate trim works in whole nodes (100 entries)
        postback_send(
            merchant=merchant,
            url=receiver.url,
            webhook_id=webhook_id_generate(),
            payload=PAYLOAD,
            test=True,
        )

    assert len(_streamed(merchant)) < 250


def test_the_stream_refuses_a_live_token_with_a_json_403(db):
    _, key = make_token(merchant=MerchantFactory())

    response = Client().get("/api/v1/postbacks/stream", HTTP_AUTHORIZATION=f"Token {key}")

    assert response.status_code == 403
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "test_token_required"


def test_the_stream_without_the_event_loop_server_says_so_instead_of_holding_a_thread(db):
    _, key = make_token(merchant=MerchantFactory(), mode=TokenMode.TEST)

    response = Client().get(
        "/api/v1/postbacks/stream",
        HTTP_AUTHORIZATION=f"Token {key}",
        HTTP_ACCEPT="text/event-stream",
    )

    assert response.status_code == 503
    assert response.json()["code"] == "stream_unavailable"
    assert "x-apaygate-stream-merchant" not in response


def test_the_stream_needs_a_token(db):
    response = Client().get("/api/v1/postbacks/stream")

    assert response.status_code == 401
