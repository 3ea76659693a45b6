"""The shopper events' buffer: a Redis stream, drained into the event log, with a DB fallback."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import redis

from payments import kv
from payments.kv import kv_store
from payments.models import EventType, PaymentEvent
from payments.shopper import event_buffer
from payments.shopper.event_buffer import (
    dead_letter_key,
    shopper_events_backlog,
    shopper_events_drain,
    stream_key,
)
from tests.factories import PaymentFactory

pytestmark = pytest.mark.django_db


def _redis():
    return redis.Redis.from_url(kv.settings.KV_REDIS_URL)


def _redirected(payment):
    return PaymentEvent.objects.filter(payment=payment, type=EventType.SHOPPER_REDIRECTED)


def test_a_redirect_event_waits_in_the_stream_until_drained(client):
    payment = PaymentFactory()
    kv_store(payment)

    client.get(f"/integration/pay?id={payment.public_id}")

    assert not _redirected(payment).exists()
    assert shopper_events_drain() == 1
    event = _redirected(payment).get()
    assert (event.merchant_id, event.status, event.provider) == (
        payment.merchant_id,
        payment.status,
        payment.provider,
    )


def test_drained_events_keep_the_time_of_the_redirect_not_of_the_drain(client, monkeypatch):
    payment = PaymentFactory()
    kv_store(payment)
    client.get(f"/integration/pay?id={payment.public_id}")
    stream = event_buffer.stream_key()
    entry_id, fields = _redis().xrange(stream)[0]
    # given: the event was buffered an hour ago
    at = event_buffer.datetime.fromisoformat(fields[b"at"].decode()) - timedelta(hours=1)
    _redis().xdel(stream, entry_id)
    _redis().xadd(stream, {**fields, b"at": at.isoformat().encode()})

    shopper_events_drain()

    assert _redirected(payment).get().occurred_at == at


def test_draining_twice_never_writes_an_event_twice(client):
    payment = PaymentFactory()
    kv_store(payment)
    client.get(f"/integration/pay?id={payment.public_id}")
    stream = event_buffer.stream_key()
    entries = _redis().xrange(stream)
    # given: a drainer committed its batch and died before its XDEL
    event_buffer._events_store(
        [event_buffer._event_from(stream, entry_id, fields) for entry_id, fields in entries]
    )

    shopper_events_drain()

    assert _redirected(payment).count() == 1
    assert _redis().xlen(stream) == 0


def test_with_redis_down_the_event_is_written_directly_and_the_redirect_still_works(
    client, monkeypatch
):
    payment = PaymentFactory()

    def refuse(*args, **kwargs):
        raise redis.ConnectionError("down")

    monkeypatch.setattr(redis.Redis, "evalsha", refuse)

    response = client.get(f"/integration/pay?id={payment.public_id}")

    assert response.status_code == 302
    assert _redirected(payment).count() == 1


def test_an_event_for_a_deleted_payment_does_not_block_the_stream(client):
    gone, kept = PaymentFactory(), PaymentFactory()
    for payment in (gone, kept):
        kv_store(payment)
        client.get(f"/integration/pay?id={payment.public_id}")
    gone.delete()

    shopper_events_drain()

    assert _redirected(kept).count() == 1
    assert _redis().xlen(event_buffer.stream_key()) == 0


def test_past_its_bound_the_stream_takes_no_more_and_events_go_to_the_database(client, settings):
    # given a stream bounded at two entries
    settings.SHOPPER_EVENTS_MAX = 2
    payments = [PaymentFactory() for _ in range(4)]

    # when four shoppers are redirected (Django's view: a KV miss each)
    for payment in payments:
        assert client.get(f"/integration/pay?id={payment.public_id}").status_code == 302

    # then two wait in the stream, two were written at once; none is lost or doubled
    assert _redis().xlen(stream_key()) == 2
    assert PaymentEvent.objects.filter(type=EventType.SHOPPER_REDIRECTED).count() == 2
    assert shopper_events_drain() == 2
    assert all(_redirected(payment).count() == 1 for payment in payments)


def test_an_entry_the_drain_cannot_copy_is_set_aside_and_the_rest_go_on(client, caplog):
    # given a good event, an unreadable entry, one the database refuses, and another good one
    first, last = PaymentFactory(), PaymentFactory()
    client.get(f"/integration/pay?id={first.public_id}")
    stream = stream_key()
    _redis().xadd(stream, {"type": "shopper.redirected", "payment_id": "not-a-number"})
    fields = event_buffer.buffer_fields(
        entry={**kv.redirect_entry(first)},
        type="shopper." + "x" * 60,  # too long a type
    )
    _redis().xadd(stream, fields)
    client.get(f"/integration/pay?id={last.public_id}")

    # when the drain runs
    taken = shopper_events_drain()

    # then the good ones are in the log, the bad ones in the dead-letter list, logged
    assert taken == 4
    assert _redirected(first).count() == 1 and _redirected(last).count() == 1
    assert _redis().xlen(stream) == 0
    dead = [json.loads(raw) for raw in _redis().lrange(dead_letter_key(), 0, -1)]
    assert [d["reason"].split(" (")[0] for d in dead] == [
        "unreadable",
        "refused by the database",
    ]
    assert "set aside (dead-letter list)" in caplog.text


def test_the_backlog_reports_the_streams_length_and_the_age_of_its_oldest_entry(client):
    payment = PaymentFactory()
    client.get(f"/integration/pay?id={payment.public_id}")

    length, lag = shopper_events_backlog()

    assert length == 1
    assert 0 <= lag < 60
    shopper_events_drain()
    assert shopper_events_backlog() == (0, 0.0)


def test_with_the_kv_breaker_open_the_event_is_written_directly_and_the_drain_waits(client):
    payment = PaymentFactory()
    kv.breaker.record_failure()

    response = client.get(f"/integration/pay?id={payment.public_id}")

    assert response.status_code == 302
    assert _redirected(payment).count() == 1
    assert shopper_events_drain() == 0
    assert shopper_events_backlog() is None


def test_metrics_show_the_streams_length_and_the_drains_lag(client):
    from prometheus_client import REGISTRY

    from apaygate.metrics import metrics_refresh_gauges

    client.get(f"/integration/pay?id={PaymentFactory().public_id}")

    metrics_refresh_gauges()

    assert REGISTRY.get_sample_value("apaygate_shopper_events_buffered") == 1
    assert REGISTRY.get_sample_value("apaygate_shopper_events_drain_lag_seconds") >= 0
