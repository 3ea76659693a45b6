"""The shopper events' buffer: a Redis stream, drained into the event log, with a DB fallback."""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis

from payments.kv import kv_store
from payments.models import EventType, PaymentEvent
from payments.shopper import event_buffer
from payments.shopper.event_buffer import shopper_events_drain
from tests.factories import PaymentFactory

pytestmark = pytest.mark.django_db


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
    entry_id, fields = event_buffer._redis().xrange(stream)[0]
    # given: the event was buffered an hour ago
    at = event_buffer.datetime.fromisoformat(fields[b"at"].decode()) - timedelta(hours=1)
    event_buffer._redis().xdel(stream, entry_id)
    event_buffer._redis().xadd(stream, {**fields, b"at": at.isoformat().encode()})

    shopper_events_drain()

    assert _redirected(payment).get().occurred_at == at


def test_draining_twice_never_writes_an_event_twice(client):
    payment = PaymentFactory()
    kv_store(payment)
    client.get(f"/integration/pay?id={payment.public_id}")
    stream = event_buffer.stream_key()
    entries = event_buffer._redis().xrange(stream)
    # given: a drainer committed its batch and died before its XDEL
    event_buffer._events_store(
        [event_buffer._event_from(stream, entry_id, fields) for entry_id, fields in entries]
    )

    shopper_events_drain()

    assert _redirected(payment).count() == 1
    assert event_buffer._redis().xlen(stream) == 0


def test_with_redis_down_the_event_is_written_directly_and_the_redirect_still_works(
    client, monkeypatch
):
    payment = PaymentFactory()

    def refuse(*args, **kwargs):
        raise redis.ConnectionError("down")

    monkeypatch.setattr(redis.Redis, "xadd", refuse)

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
    assert event_buffer._redis().xlen(event_buffer.stream_key()) == 0
