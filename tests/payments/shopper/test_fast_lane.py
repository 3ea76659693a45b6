"""The redirect's fast lane (ASGI): same answer as Django's view, or none at all."""

from __future__ import annotations

import asyncio

import pytest

from payments.kv import kv_store
from payments.models import PaymentStatus
from payments.shopper.event_buffer import async_redis, shopper_events_drain
from payments.shopper.fast_lane import pay_fast
from tests.factories import PaymentFactory

pytestmark = pytest.mark.django_db


def _call(public_id: str, host: bytes = b"testserver") -> tuple[bool, list[dict]]:
    sent: list[dict] = []

    async def send(message):
        sent.append(message)

    async def run():
        scope = {
            "type": "http",
            "method": "GET",
            "path": "/integration/pay",
            "query_string": f"id={public_id}".encode(),
            "headers": [(b"host", host)],
        }
        try:
            return await pay_fast(scope, send)
        finally:
            await async_redis().aclose()

    return asyncio.run(run()), sent


def test_the_fast_lane_answers_like_the_django_view(client):
    payment = PaymentFactory()
    kv_store(payment)
    django_response = client.get(f"/integration/pay?id={payment.public_id}")

    handled, sent = _call(payment.public_id)

    assert handled
    start = sent[0]
    headers = {name.decode(): value.decode() for name, value in start["headers"]}
    assert start["status"] == django_response.status_code == 302
    expected = {name.lower(): value for name, value in django_response.items()}
    assert headers.keys() == expected.keys()
    per_response = {"expires", "x-request-id"}
    assert {k: v for k, v in headers.items() if k not in per_response} == {
        k: v for k, v in expected.items() if k not in per_response
    }
    assert len(headers["x-request-id"]) == 32
    assert headers["expires"].endswith(" GMT")


def test_the_fast_lane_buffers_the_redirect_event():
    payment = PaymentFactory()
    kv_store(payment)

    _call(payment.public_id)

    assert shopper_events_drain() == 1
    assert payment.events.filter(type="shopper.redirected").count() == 1


@pytest.mark.parametrize(
    "setup",
    ["miss", "closed", "bad_host"],
)
def test_the_fast_lane_leaves_everything_but_a_payable_hit_to_django(setup, settings):
    settings.ALLOWED_HOSTS = ["testserver"]
    payment = PaymentFactory(status=PaymentStatus.SUCCEEDED if setup == "closed" else "pending")
    if setup != "miss":
        kv_store(payment)
    host = b"evil.example" if setup == "bad_host" else b"testserver"

    handled, sent = _call(payment.public_id, host=host)

    assert not handled
    assert sent == []
    assert shopper_events_drain() == 0
