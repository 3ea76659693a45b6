"""The KV is an accelerator, never a dependency: Redis down means database reads, not 500s."""

from __future__ import annotations

import time

import pytest
from django.db import transaction

from payments import kv
from payments.kv import (
    BreakerAnnouncements,
    kv_cached,
    kv_forget,
    kv_get,
    kv_store,
    kv_sweep,
)
from payments.models import PaymentStatus
from payments.state import payment_transition
from tests.factories import PaymentFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def kv_redis(settings, own_redis):
    """Point the KV at a private redis-server this test may stop; reset the KV's state."""
    settings.KV_REDIS_URL = own_redis.url
    kv.breaker.record_success()
    kv._unforgotten.clear()
    yield own_redis
    kv.breaker.record_success()
    kv._unforgotten.clear()


def test_kv_get_reads_the_database_when_redis_is_down(kv_redis):
    payment = PaymentFactory(status=PaymentStatus.PENDING)
    kv_redis.stop()

    entry = kv_get(payment.public_id)

    assert entry["pk"] == payment.pk
    assert entry["provider_url"] == payment.provider_url
    assert kv_get("no-such-payment") is None


def test_kv_get_refills_a_miss_for_a_pending_payment(kv_redis):
    payment = PaymentFactory(status=PaymentStatus.PENDING)
    assert kv_cached(payment.public_id) is None

    kv_get(payment.public_id)

    assert kv_cached(payment.public_id)["status"] == PaymentStatus.PENDING


def test_kv_writes_and_drops_never_raise_when_redis_is_down(kv_redis):
    payment = PaymentFactory(status=PaymentStatus.PENDING)
    kv_redis.stop()

    kv_store(payment)
    kv_forget(payment.public_id)

    assert kv_cached(payment.public_id) is None


def test_breaker_keeps_requests_off_redis_for_a_while_after_a_failure(kv_redis, settings):
    # given Redis failed once (the breaker opens) and came back
    payment = PaymentFactory(status=PaymentStatus.PENDING)
    kv_redis.stop()
    kv_get(payment.public_id)
    kv_redis.start()

    # then reads skip Redis while the breaker is open, and use it again once it closes
    assert not kv.breaker.closed
    assert kv_cached(payment.public_id) is None
    kv.breaker.record_success()
    kv_get(payment.public_id)
    assert kv_cached(payment.public_id)["pk"] == payment.pk


def test_a_failed_kv_forget_does_not_skip_the_on_commit_hooks_after_it(kv_redis):
    payment = PaymentFactory(status=PaymentStatus.PENDING)
    kv_redis.stop()
    ran = []

    with transaction.atomic():
        payment_transition(payment=payment, target=PaymentStatus.SUCCEEDED)
        transaction.on_commit(lambda: ran.append("queue the postback"))

    assert ran == ["queue the postback"]


def test_a_failed_drop_is_retried_by_the_same_process_once_redis_answers(kv_redis):
    # given an entry whose drop failed (the breaker was open)
    payment = PaymentFactory(status=PaymentStatus.PENDING)
    kv_store(payment)
    kv.breaker.record_failure()
    kv_forget(payment.public_id)
    kv.breaker.record_success()

    # when this process next talks to Redis, then the entry is gone first
    assert kv_cached(payment.public_id) is None


def test_sweep_drops_entries_left_by_a_failed_drop_in_a_process_that_died(kv_redis):
    # given a payment finalised while its KV entry could not be dropped, and the process
    # that should have retried it gone (its memory with it)
    payment = PaymentFactory(status=PaymentStatus.PENDING)
    kv_store(payment)
    kv.breaker.record_failure()
    with transaction.atomic():
        payment_transition(payment=payment, target=PaymentStatus.SUCCEEDED)
    kv._unforgotten.clear()
    kv.breaker.record_success()
    assert kv_cached(payment.public_id)["status"] == PaymentStatus.PENDING

    # when a worker's poller sweeps
    swept = kv_sweep()

    # then the stale entry is gone and the shopper sees the real status
    assert swept >= 1
    assert kv_cached(payment.public_id) is None
    assert kv_get(payment.public_id)["status"] == PaymentStatus.SUCCEEDED


def test_sweep_waits_for_redis_and_covers_the_gap_when_it_returns(kv_redis):
    assert kv_sweep() == 0
    payment = PaymentFactory(status=PaymentStatus.PENDING)
    kv_store(payment)
    kv.breaker.record_failure()
    with transaction.atomic():
        payment_transition(payment=payment, target=PaymentStatus.FAILED)
    kv._unforgotten.clear()

    assert kv_sweep() is None  # Redis unusable: the mark stays where it was
    kv.breaker.record_success()
    assert kv_sweep() == 1
    assert kv_cached(payment.public_id) is None


def test_one_redis_client_is_reused_across_calls(kv_redis):
    payment = PaymentFactory(status=PaymentStatus.PENDING)
    kv_store(payment)
    first = kv._client()

    kv_get(payment.public_id)
    kv_forget(payment.public_id)

    assert kv._client() is first


def test_breaker_announcements_live_in_redis_for_one_reset_period(kv_redis):
    announcements = BreakerAnnouncements()
    announcements.announce_open("bansky", seconds=0.2)
    assert announcements.is_announced_open("bansky")
    assert not announcements.is_announced_open("tele")

    time.sleep(0.3)
    assert not announcements.is_announced_open("bansky")

    announcements.announce_open("bansky", seconds=5)
    announcements.announce_closed("bansky")
    assert not announcements.is_announced_open("bansky")


def test_breaker_announcements_read_as_closed_and_never_raise_when_redis_is_down(kv_redis):
    announcements = BreakerAnnouncements()
    announcements.announce_open("bansky", seconds=5)
    kv_redis.stop()

    announcements.announce_open("tele", seconds=5)
    announcements.announce_closed("tele")

    assert not announcements.is_announced_open("bansky")
