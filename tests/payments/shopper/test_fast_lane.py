"""The redirect's fast lane (ASGI): same answer as Django's view, or none at all."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import redis

from payments import kv
from payments.kv import kv_cached, kv_run, kv_store
from payments.models import EventType, PaymentEvent, PaymentStatus
from payments.shopper.event_buffer import (
    buffer_fields,
    shopper_events_drain,
    stream_key,
)
from tests.factories import PaymentFactory
from tests.support.fast_lane import call_fast_lane

pytestmark = pytest.mark.django_db


def _call(public_id: str, host: bytes = b"testserver") -> tuple[bool, list[dict]]:
    return call_fast_lane(public_id, headers=[(b"host", host)])


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


def test_the_fast_lane_buffers_the_same_fields_as_the_django_view(settings):
    payment = PaymentFactory()
    kv_store(payment)
    expected = buffer_fields(entry=kv_cached(payment.public_id), type=EventType.SHOPPER_REDIRECTED)

    _call(payment.public_id)

    [(_entry_id, raw_fields)] = redis.Redis.from_url(settings.KV_REDIS_URL).xrange(stream_key())
    fields = {key.decode(): value.decode() for key, value in raw_fields.items()}
    assert fields.keys() == expected.keys()
    assert {k: v for k, v in fields.items() if k != "at"} == {
        k: v for k, v in expected.items() if k != "at"
    }
    at = datetime.fromisoformat(fields["at"])
    assert abs(at - datetime.fromisoformat(expected["at"])) < timedelta(seconds=5)
    assert shopper_events_drain() == 1


def test_the_fast_lane_leaves_the_redirect_to_django_when_redis_is_away(settings):
    payment = PaymentFactory()
    kv_store(payment)
    settings.KV_REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there

    handled, sent = _call(payment.public_id)

    assert not handled
    assert sent == []
    assert not kv.breaker.closed  # the next redirects skip Redis at once


def test_the_fast_lane_steps_aside_without_asking_redis_while_the_kv_breaker_is_open(client):
    # given a payable KV hit, and the KV's breaker open (Redis failed a moment ago)
    payment = PaymentFactory()
    kv_store(payment)
    kv.breaker.record_failure()

    # when the shopper is redirected
    handled, sent = _call(payment.public_id)
    response = client.get(f"/integration/pay?id={payment.public_id}")

    # then the fast lane left it to Django, which wrote the event to the database at once
    assert not handled and sent == []
    assert response.status_code == 302
    assert payment.events.filter(type=EventType.SHOPPER_REDIRECTED).count() == 1
    kv.breaker.record_success()
    assert kv_run(lambda c: c.xlen(stream_key())) == 0


def test_the_fast_lane_leaves_the_redirect_to_django_when_the_stream_is_full(client, settings):
    # given an event stream at its bound
    settings.SHOPPER_EVENTS_MAX = 1
    first, second = PaymentFactory(), PaymentFactory()
    kv_store(first)
    kv_store(second)
    assert _call(first.public_id)[0]

    # when another shopper is redirected
    handled, _sent = _call(second.public_id)
    response = client.get(f"/integration/pay?id={second.public_id}")

    # then its event bypassed the stream into the database; the stream stayed at its bound
    assert not handled
    assert response.status_code == 302
    assert second.events.filter(type=EventType.SHOPPER_REDIRECTED).count() == 1
    assert kv_run(lambda c: c.xlen(stream_key())) == 1
    assert shopper_events_drain() == 1
    assert PaymentEvent.objects.filter(type=EventType.SHOPPER_REDIRECTED).count() == 2


@pytest.mark.parametrize(
    "setup",
    ["miss", "closed", "created", "no_provider_url", "bad_host"],
)
def test_the_fast_lane_leaves_everything_but_a_payable_hit_to_django(setup, settings):
    settings.ALLOWED_HOSTS = ["testserver"]
    status = {"closed": PaymentStatus.SUCCEEDED, "created": PaymentStatus.CREATED}
    payment = PaymentFactory(status=status.get(setup, PaymentStatus.PENDING))
    if setup == "no_provider_url":
        payment.provider_url = ""
    if setup != "miss":
        kv_store(payment)
    host = b"evil.example" if setup == "bad_host" else b"testserver"

    handled, sent = _call(payment.public_id, host=host)

    assert not handled
    assert sent == []
    assert shopper_events_drain() == 0


def test_the_fast_lane_loads_its_script_when_the_redis_server_lacks_it():
    # given a Redis whose script cache was emptied (a restart, a failover to a replica)
    payment = PaymentFactory()
    kv_store(payment)
    kv_run(lambda c: c.script_flush())

    handled, sent = _call(payment.public_id)

    assert handled
    assert sent[0]["status"] == 302
    assert shopper_events_drain() == 1
