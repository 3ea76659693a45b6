"""The worker's relay: batches claimed and recorded in a few statements, sent concurrently."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from payments.delivery.claim import deliveries_claim_attempts
from payments.delivery.outbox import delivery_enqueue, postback_url_disabled
from payments.delivery.poller import FULL, DeliveryPoller
from payments.delivery.record import attempts_record
from payments.delivery.resend import delivery_resend
from payments.delivery.send import AttemptResult, postback_send
from payments.models import (
    DeliveryAttempt,
    DeliveryStatus,
    EventType,
    PaymentEvent,
    PostbackDelivery,
)
from tests.factories import MerchantFactory, PaymentFactory
from tests.support.gateway import hang_until_released


def _due(merchant, url: str, count: int, *, queued: bool = False) -> list[PostbackDelivery]:
    """Write `count` due deliveries; unless `queued`, as if no task had been sent for them."""
    with transaction.atomic():
        deliveries = [
            delivery_enqueue(
                payment=PaymentFactory(merchant=merchant, postback_url=url, status="succeeded"),
                event="payment.succeeded",
            )
            for _ in range(count)
        ]
    if not queued:
        PostbackDelivery.objects.filter(pk__in=[d.pk for d in deliveries]).update(
            claimed_until=None
        )
    return deliveries


def _statements(queries: CaptureQueriesContext) -> list[str]:
    """The SQL sent, without the savepoints the test's own transaction adds."""
    return [
        q["sql"]
        for q in queries.captured_queries
        if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))
    ]


def _claim_and_record(count: int, merchant, url: str) -> tuple[list[str], list[str]]:
    _due(merchant, url, count)
    with CaptureQueriesContext(connection) as claiming:
        claimed = deliveries_claim_attempts(limit=count + 10)
    assert len(claimed) == count
    now = timezone.now()
    ok = {"started_at": now, "duration_ms": 3, "status_code": 200}
    results = [(d.pk, d.claim_token, AttemptResult(webhook_id=d.webhook_id, **ok)) for d in claimed]
    with CaptureQueriesContext(connection) as recording:
        attempts_record(results=results)
    return _statements(claiming), _statements(recording)


@pytest.mark.django_db
def test_claiming_and_recording_a_batch_costs_the_same_statements_as_one(settings):
    # given a merchant with due deliveries
    settings.POSTBACK_ALLOW_PRIVATE = True
    merchant = MerchantFactory()
    url = "http://127.0.0.1:9/postback"

    # when one is claimed and recorded, then twenty at once
    claim_one, record_one = _claim_and_record(1, merchant, url)
    claim_many, record_many = _claim_and_record(20, merchant, url)

    # then the batch took as many statements as the single one: claim 2, record 4
    assert len(claim_one) == len(claim_many) == 2
    assert len(record_one) == len(record_many) == 4
    # and every delivery is done, with its attempt in the log and its event recorded
    assert PostbackDelivery.objects.filter(status=DeliveryStatus.SUCCEEDED).count() == 21
    assert DeliveryAttempt.objects.filter(status_code=200).count() == 21
    assert PaymentEvent.objects.filter(type=EventType.DELIVERY_SUCCEEDED).count() == 21


@pytest.mark.django_db
def test_a_claimed_row_is_not_due_for_anyone_else(settings):
    # given due deliveries, one batch claimed
    settings.POSTBACK_ALLOW_PRIVATE = True
    merchant = MerchantFactory()
    deliveries = _due(merchant, "http://127.0.0.1:9/postback", 5)
    first = deliveries_claim_attempts(limit=10)

    # when another claimer asks for any due row, or for those very ids
    again = deliveries_claim_attempts(limit=10)
    by_id = deliveries_claim_attempts(ids=[d.pk for d in deliveries], limit=10)

    # then it gets nothing: each row went to the first claimer, counted once
    assert len(first) == 5
    assert again == by_id == []
    assert {d.attempt_count for d in PostbackDelivery.objects.all()} == {1}


@pytest.mark.django_db
def test_a_row_left_in_flight_by_a_dead_worker_gets_an_interrupted_attempt(settings):
    # given a claimed delivery whose worker died before recording (its lease has run out)
    settings.POSTBACK_ALLOW_PRIVATE = True
    (delivery,) = _due(MerchantFactory(), "http://127.0.0.1:9/postback", 1)
    deliveries_claim_attempts(limit=1)
    now = timezone.now()
    PostbackDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=now, claimed_until=now)

    # when it is claimed again
    (again,) = deliveries_claim_attempts(limit=1)

    # then the log says the first attempt was interrupted, and this is the second
    assert again.attempt_count == 2
    (interrupted,) = DeliveryAttempt.objects.filter(delivery=delivery)
    assert interrupted.error.startswith("interrupted")


@pytest.mark.django_db
def test_a_claimed_delivery_is_sent_without_touching_the_database(settings, receiver):
    # given a claimed delivery (a sender thread has no database connection of its own)
    settings.POSTBACK_ALLOW_PRIVATE = True
    merchant = MerchantFactory()
    receiver.secrets = [merchant.postback_secret]
    _due(merchant, receiver.url, 1)
    (delivery,) = deliveries_claim_attempts(limit=1)

    # when it is signed and sent
    with CaptureQueriesContext(connection) as queries:
        result = postback_send(
            merchant=delivery.payment.merchant,
            url=delivery.url,
            webhook_id=delivery.webhook_id,
            payload=delivery.payload,
        )

    # then everything it needed came with the claim
    assert result.succeeded
    assert receiver.requests[0].verified_with == [merchant.postback_secret]
    assert _statements(queries) == []


@pytest.mark.django_db
def test_enqueue_asks_about_410_in_one_query_when_the_url_never_said_gone(settings):
    merchant = MerchantFactory()
    _due(merchant, "https://shop.example/postback", 3)

    with CaptureQueriesContext(connection) as queries:
        disabled = postback_url_disabled(merchant=merchant, url="https://shop.example/postback")

    assert disabled is False
    assert len(_statements(queries)) == 1


@pytest.mark.django_db(transaction=True)
def test_the_relay_sends_a_batch_concurrently(worker_settings, receiver):
    # given eight due deliveries, and a merchant that answers only once all eight are open
    merchant = MerchantFactory()
    receiver.secrets = [merchant.postback_secret]
    together = threading.Barrier(8, timeout=10)

    def when_all_eight_are_open(_item):
        try:
            together.wait()
        except threading.BrokenBarrierError:
            return (500, {}, b"not concurrent")
        return (200, {}, b"ok")

    receiver.script = [when_all_eight_are_open] * 8
    _due(merchant, receiver.url, 8)
    relay = DeliveryPoller(interval=0.2, concurrency=8)

    # when the relay scans once
    try:
        assert relay.tick() == 8
        _wait_until_none_pending(timeout=20)
    finally:
        relay.stop()

    # then all eight were in flight together, signed, and each was recorded as delivered
    assert PostbackDelivery.objects.filter(status=DeliveryStatus.SUCCEEDED).count() == 8
    assert len(receiver.requests) == 8
    assert all(r.verified_with for r in receiver.requests)


@pytest.mark.django_db(transaction=True)
def test_a_wanted_delivery_is_sent_without_waiting_for_a_scan(worker_settings, receiver):
    # given a delivery handed to the broker (its queue lease keeps scans away from it)
    merchant = MerchantFactory()
    receiver.secrets = [merchant.postback_secret]
    (delivery,) = _due(merchant, receiver.url, 1, queued=True)
    relay = DeliveryPoller(interval=60, concurrency=4)
    relay.start()

    # when its task hands it to the relay
    try:
        relay.want(delivery.pk)
        _wait_until_none_pending(timeout=10)
    finally:
        relay.stop()

    # then it went out once and is recorded
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert [r.headers["webhook-id"] for r in receiver.requests] == [delivery.webhook_id]


@pytest.mark.django_db(transaction=True)
def test_in_a_backlog_wanted_deliveries_wait_for_a_batch_of_room(worker_settings, receiver):
    """Each claim is a transaction: with many ids wanted, the relay claims them a batch at
    a time (concurrency / 4), not one sender's worth at a time as senders free up."""
    # given a relay of 8 senders (16 claims, batches of 2) holding 15 claims on a merchant
    # that hangs
    worker_settings.POSTBACK_ENDPOINT_CONCURRENCY = 8
    worker_settings.POSTBACK_TIMEOUT = 20.0
    worker_settings.POSTBACK_ATTEMPT_LEASE = 45.0
    slow, other = MerchantFactory(), MerchantFactory()
    receiver.script = [hang_until_released(receiver)] * 15
    _due(slow, receiver.url_for("/hang"), 15)
    relay = DeliveryPoller(interval=60, concurrency=8)
    relay.start()
    try:
        assert receiver.wait_for(8, timeout=10)
        wanted = _due(other, receiver.url_for("/ok"), 3, queued=True)

        # when three other deliveries are wanted while one claim's room is free
        for delivery in wanted:
            relay.want(delivery.pk)

        # then none is claimed for that one room (before, one went at once)
        time.sleep(1.5)
        claimed = PostbackDelivery.objects.filter(
            pk__in=[d.pk for d in wanted], claim_token__isnull=False
        )
        assert not claimed.exists()
        assert not [r for r in receiver.requests if r.path == "/ok"]

        # and once the merchant answers, room frees up and every one is delivered
        receiver.release.set()
        _wait_until_none_pending(timeout=20)
    finally:
        receiver.release.set()
        relay.stop()
    assert len([r for r in receiver.requests if r.path == "/ok"]) == 3


def _wait_until_none_pending(*, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not PostbackDelivery.objects.filter(status=DeliveryStatus.PENDING).exists():
            return
        time.sleep(0.1)
    raise AssertionError("postbacks still pending")


@pytest.mark.django_db(transaction=True)
def test_stopping_gives_back_claimed_deliveries_that_were_never_sent(worker_settings, receiver):
    # given one sender busy with a merchant that hangs, and a second delivery claimed behind it
    merchant = MerchantFactory()
    receiver.script = [hang_until_released(receiver)]
    first, second = _due(merchant, receiver.url, 2)
    assert first.next_attempt_at < second.next_attempt_at  # claimed, and so sent, first
    relay = DeliveryPoller(interval=60, concurrency=1)
    try:
        assert relay.tick() == FULL  # both claimed: one for the sender, one waiting
        assert receiver.arrived.wait(5)
        # the waiting one's lease outlasts the attempt ahead of it plus its own
        waiting = PostbackDelivery.objects.get(pk=second.pk)
        lease = timedelta(seconds=worker_settings.POSTBACK_ATTEMPT_LEASE)
        assert waiting.claimed_until - timezone.now() > lease
    finally:
        # when the worker stops while the first is still in flight
        relay.stop()

    # then the second was never sent and is due again at once, its claim undone
    second.refresh_from_db()
    assert len(receiver.requests) == 1
    assert second.attempt_count == 0
    assert second.last_error == ""
    assert second.next_attempt_at <= timezone.now()
    assert not DeliveryAttempt.objects.filter(delivery=second).exists()


@pytest.mark.django_db
def test_a_resend_while_an_answer_is_on_the_way_is_not_marked_delivered_by_it():
    """The relay records answers a moment after they arrive; a resend in between must
    still go out (before, the earlier try's success overwrote it: the resend was lost)."""
    merchant = MerchantFactory()
    (delivery,) = _due(merchant, "https://shop.example/pb", 1)
    (claimed,) = deliveries_claim_attempts(limit=1)
    delivery_resend(delivery=claimed, by="test")
    ok = AttemptResult(
        webhook_id=claimed.webhook_id, started_at=timezone.now(), duration_ms=3, status_code=200
    )

    attempts_record(results=[(claimed.pk, claimed.claim_token, ok)])

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.delivered_at is None
    assert delivery.next_attempt_at <= timezone.now()
    assert DeliveryAttempt.objects.filter(delivery=delivery, status_code=200).count() == 1
