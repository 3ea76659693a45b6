"""The fast lane on a KV miss: one database read off the loop, the view's rules, its answer.

Under ASGI the lane is given `read_entry` (apaygate/asgi.py runs the read in the general
pool): a payable payment missing from the KV is answered by the lane itself, with the
view's headers, its event buffered and its KV entry refilled; everything else is left to
Django's view. The read runs in another thread, as in the server: the data is committed
(transactional tests) so that thread's connection sees it.
"""

from __future__ import annotations

import asyncio

import pytest
import redis
from django.core.cache import cache

from payments.kv import kv_cached, kv_run
from payments.models import EventType, PaymentEvent, PaymentStatus
from payments.shopper.event_buffer import buffer_fields, shopper_events_drain, stream_key
from tests.factories import PaymentFactory
from tests.support.fast_lane import call_fast_lane

pytestmark = pytest.mark.django_db(transaction=True)


async def _in_thread(call):
    return await asyncio.to_thread(call)


def _call(public_id: str, read_entry=_in_thread) -> tuple[bool, list[dict]]:
    return call_fast_lane(public_id, read_entry=read_entry)


def test_a_kv_miss_is_answered_like_the_django_view_and_refills_the_kv(client):
    # given a pending payment the KV does not hold, and Django's answer to another one
    payment, other = PaymentFactory(), PaymentFactory()
    cache.clear()
    django_response = client.get(f"/integration/pay?id={other.public_id}")

    # when the fast lane is asked for the first
    handled, sent = _call(payment.public_id)

    # then it answered with the view's status and headers, and refilled the KV entry
    assert handled
    start = sent[0]
    assert start["status"] == django_response.status_code == 302
    headers = {name.decode(): value.decode() for name, value in start["headers"]}
    expected = {name.lower(): value for name, value in django_response.items()}
    assert headers.keys() == expected.keys()
    per_response = {"expires", "x-request-id", "location"}
    assert {k: v for k, v in headers.items() if k not in per_response} == {
        k: v for k, v in expected.items() if k not in per_response
    }
    assert headers["location"] == payment.provider_url
    assert kv_cached(payment.public_id)["provider_url"] == payment.provider_url


def test_a_kv_miss_buffers_the_same_event_as_the_django_view(settings):
    payment = PaymentFactory()
    cache.clear()

    assert _call(payment.public_id)[0]

    [(_entry_id, raw_fields)] = redis.Redis.from_url(settings.KV_REDIS_URL).xrange(stream_key())
    fields = {key.decode(): value.decode() for key, value in raw_fields.items()}
    expected = buffer_fields(entry=kv_cached(payment.public_id), type=EventType.SHOPPER_REDIRECTED)
    assert {k: v for k, v in fields.items() if k != "at"} == {
        k: v for k, v in expected.items() if k != "at"
    }
    assert shopper_events_drain() == 1
    assert payment.events.filter(type=EventType.SHOPPER_REDIRECTED).count() == 1


@pytest.mark.parametrize("setup", ["unknown", "closed", "created", "no_provider_url"])
def test_a_kv_miss_the_view_would_not_redirect_is_left_to_django(setup):
    status = {"closed": PaymentStatus.SUCCEEDED, "created": PaymentStatus.CREATED}
    payment = PaymentFactory(status=status.get(setup, PaymentStatus.PENDING))
    if setup == "no_provider_url":
        payment.provider_url = ""
        payment.save(update_fields=["provider_url"])
    public_id = "pay_unknown000000000000000000000" if setup == "unknown" else payment.public_id
    cache.clear()

    handled, sent = _call(public_id)

    assert not handled
    assert sent == []
    assert kv_cached(public_id) is None  # nothing refilled, nothing buffered
    assert kv_run(lambda c: c.xlen(stream_key())) == 0


def test_a_kv_miss_with_the_stream_full_stores_the_entry_and_leaves_the_event_to_django(
    client, settings
):
    # given an event stream at its bound
    settings.SHOPPER_EVENTS_MAX = 0
    payment = PaymentFactory()
    cache.clear()

    # when the fast lane is asked, then Django
    handled, _sent = _call(payment.public_id)
    response = client.get(f"/integration/pay?id={payment.public_id}")

    # then the lane wrote no event, and Django's view wrote it to the database once
    assert not handled
    assert kv_cached(payment.public_id) is not None
    assert response.status_code == 302
    assert (
        PaymentEvent.objects.filter(payment=payment)
        .filter(type=EventType.SHOPPER_REDIRECTED)
        .count()
        == 1
    )
    assert kv_run(lambda c: c.xlen(stream_key())) == 0


def test_a_kv_miss_whose_read_was_not_run_is_left_to_django():
    # given a pool that sheds the read (apaygate/pools.py's Shed: not an entry)
    payment = PaymentFactory()
    cache.clear()

    async def shed(_call):
        return object()

    handled, sent = _call(payment.public_id, read_entry=shed)

    assert not handled and sent == []
    assert kv_cached(payment.public_id) is None


def test_without_a_way_to_read_the_database_a_kv_miss_is_left_to_django():
    payment = PaymentFactory()
    cache.clear()

    handled, sent = _call(payment.public_id, read_entry=None)

    assert not handled and sent == []
