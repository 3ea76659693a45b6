"""The bounded event buffer on a real web server: a full stream and a dead Redis both cost
the redirect a synchronous database write, never a 5xx and never an event."""

from __future__ import annotations

import pytest
import requests

from payments.kv import kv_run, kv_store
from payments.models import EventType, PaymentEvent
from payments.shopper.event_buffer import shopper_events_drain, stream_key
from tests.apaygate.test_web_server import _start_server, _stop
from tests.factories import PaymentFactory

pytestmark = [pytest.mark.fault, pytest.mark.django_db(transaction=True)]


def _redirected() -> int:
    return PaymentEvent.objects.filter(type=EventType.SHOPPER_REDIRECTED).count()


def test_a_full_stream_and_a_dead_redis_send_events_to_postgresql(
    tmp_path, settings, own_redis_aof
):
    # given a web server whose KV and event stream live on a Redis of their own, bounded at 2
    settings.KV_REDIS_URL = own_redis_aof.url
    process, base = _start_server(
        tmp_path, {"KV_REDIS_URL": own_redis_aof.url, "SHOPPER_EVENTS_MAX": "2"}
    )
    payments = [PaymentFactory() for _ in range(5)]
    for payment in payments:
        kv_store(payment)

    def redirect(payment) -> int:
        return requests.get(
            f"{base}/integration/pay?id={payment.public_id}", allow_redirects=False, timeout=10
        ).status_code

    try:
        # when four shoppers are redirected: two fill the stream, two find it full
        assert [redirect(p) for p in payments[:4]] == [302] * 4
        # then the stream stayed at its bound and the other two were written at once
        assert kv_run(lambda c: c.xlen(stream_key())) == 2
        assert _redirected() == 2

        # when Redis dies and another shopper is redirected
        own_redis_aof.stop()
        assert redirect(payments[4]) == 302
        # then that event is in PostgreSQL already
        assert _redirected() == 3
    finally:
        _stop(process)

    # and once Redis is back, the drain copies the rest: every event exactly once
    own_redis_aof.start()
    assert shopper_events_drain() == 2
    for payment in payments:
        assert payment.events.filter(type=EventType.SHOPPER_REDIRECTED).count() == 1
