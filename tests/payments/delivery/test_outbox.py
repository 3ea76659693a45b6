"""Merchant postback delivery, one attempt at a time, against a real loopback receiver."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connections, transaction
from django.utils import timezone

from payments.delivery.attempts import delivery_attempt
from payments.delivery.outbox import deliveries_claim_due, delivery_enqueue
from payments.delivery.resend import delivery_resend
from payments.delivery.send import delivery_send_test
from payments.delivery.wire import retry_after_seconds, retry_delay_seconds
from payments.merchants import merchant_rotate_postback_secret
from payments.models import (
    DeliveryAttempt,
    DeliveryStatus,
    EventType,
    PaymentEvent,
    PostbackDelivery,
)
from tests.factories import MerchantFactory, PaymentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(settings, receiver):
    settings.POSTBACK_ALLOW_PRIVATE = True
    settings.POSTBACK_TIMEOUT = 2.0
    settings.POSTBACK_RETRY_JITTER = 0.1
    merchant = MerchantFactory()
    receiver.secrets = [merchant.postback_secret]
    payment = PaymentFactory(merchant=merchant, postback_url=receiver.url, status="succeeded")
    return merchant, payment


def enqueue(payment):
    return delivery_enqueue(payment=payment, event="payment.succeeded")


def test_postback_is_signed_per_standard_webhooks(setup, receiver):
    merchant, payment = setup
    delivery = enqueue(payment)

    delivery = delivery_attempt(delivery_id=delivery.pk)

    assert delivery.status == DeliveryStatus.SUCCEEDED
    (got,) = receiver.requests
    assert got.verified_with == [merchant.postback_secret]
    assert got.headers["webhook-id"] == delivery.webhook_id
    assert got.headers["content-type"] == "application/json"
    assert got.json["paymentId"] == payment.public_id
    assert list(got.json) == [
        "event",
        "id",
        "paymentId",
        "status",
        "amount",
        "currency",
        "createdAt",
        "updatedAt",
    ]
    assert PaymentEvent.objects.filter(payment=payment, type=EventType.DELIVERY_SUCCEEDED).exists()


def test_both_secrets_sign_during_a_rotation(setup, receiver):
    merchant, payment = setup
    old = merchant.postback_secret
    new = merchant_rotate_postback_secret(merchant=merchant)
    receiver.secrets = [old, new]
    payment.merchant.refresh_from_db()

    delivery_attempt(delivery_id=enqueue(payment).pk)

    (got,) = receiver.requests
    assert sorted(got.verified_with) == sorted([old, new])
    assert len(got.headers["webhook-signature"].split(" ")) == 2


def test_retired_secret_no_longer_signs(setup, receiver):
    merchant, payment = setup
    old = merchant.postback_secret
    new = merchant_rotate_postback_secret(merchant=merchant)
    merchant.refresh_from_db()
    merchant.previous_secret_expires_at = timezone.now() - timedelta(seconds=1)
    merchant.save()
    receiver.secrets = [old, new]

    delivery_attempt(delivery_id=enqueue(payment).pk)

    assert receiver.requests[0].verified_with == [new]


def test_500_is_kept_and_retried_within_ten_seconds_with_the_same_webhook_id(setup, receiver):
    _, payment = setup
    receiver.script = [(500, {}, b"x" * 5000)]
    delivery = enqueue(payment)

    before = timezone.now()
    delivery = delivery_attempt(delivery_id=delivery.pk)

    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.last_status_code == 500
    assert timedelta(seconds=4) < delivery.next_attempt_at - before < timedelta(seconds=10)
    attempt = DeliveryAttempt.objects.get(delivery=delivery)
    assert attempt.status_code == 500
    assert len(attempt.response_body) == 2048
    assert attempt.duration_ms >= 0

    # when it is due again
    delivery.next_attempt_at = timezone.now()
    delivery.save()
    delivery = delivery_attempt(delivery_id=delivery.pk)

    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert [r.headers["webhook-id"] for r in receiver.requests] == [delivery.webhook_id] * 2
    assert delivery.attempts.count() == 2


def test_attempt_that_is_not_due_does_nothing(setup, receiver):
    _, payment = setup
    delivery = enqueue(payment)
    delivery.next_attempt_at = timezone.now() + timedelta(minutes=5)
    delivery.save()

    assert delivery_attempt(delivery_id=delivery.pk) is None
    assert receiver.requests == []


def test_redirect_is_a_failure_and_is_not_followed(setup, receiver):
    _, payment = setup
    receiver.script = [(302, {"Location": receiver.url_for("/followed")}, b"")]

    delivery = delivery_attempt(delivery_id=enqueue(payment).pk)

    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.last_status_code == 302
    assert "redirects are not followed" in delivery.last_error
    assert [r.path for r in receiver.requests] == ["/postback"]


def test_410_stops_retries_and_disables_the_url(setup, receiver):
    _, payment = setup
    receiver.script = [(410, {}, b"gone")]

    delivery = delivery_attempt(delivery_id=enqueue(payment).pk)

    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.next_attempt_at is None
    later = delivery_enqueue(payment=payment, event="payment.succeeded")
    assert later.status == DeliveryStatus.FAILED
    assert "410" in later.last_error
    assert len(receiver.requests) == 1


def test_resend_after_410_re_enables_the_url_when_it_succeeds(setup, receiver):
    _, payment = setup
    receiver.script = [(410, {}, b"gone")]
    delivery = delivery_attempt(delivery_id=enqueue(payment).pk)

    delivery = delivery_resend(delivery=delivery, by="staff:test")
    delivery = delivery_attempt(delivery_id=delivery.pk)

    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert (
        delivery_enqueue(payment=payment, event="payment.succeeded").status
        == DeliveryStatus.PENDING
    )
    assert PaymentEvent.objects.filter(type=EventType.DELIVERY_RESENT).count() == 1


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_honoured(setup, receiver, status):
    _, payment = setup
    receiver.script = [(status, {"Retry-After": "120"}, b"")]

    before = timezone.now()
    delivery = delivery_attempt(delivery_id=enqueue(payment).pk)

    assert delivery.next_attempt_at - before >= timedelta(seconds=119)


def test_after_the_last_try_the_delivery_is_failed(setup, receiver, settings):
    _, payment = setup
    settings.POSTBACK_RETRY_SCHEDULE = [0, 0, 0]
    receiver.script = [(500, {}, b"")] * 3
    delivery = enqueue(payment)

    for _ in range(3):
        delivery = delivery_attempt(delivery_id=delivery.pk)

    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts.count() == 3
    assert PaymentEvent.objects.filter(type=EventType.DELIVERY_FAILED).count() == 1


def test_slow_merchant_times_out(setup, receiver, settings):
    _, payment = setup
    settings.POSTBACK_TIMEOUT = 0.5
    gate = threading.Event()
    receiver.script = [lambda _item: (gate.wait(3), (200, {}, b""))[1]]

    delivery = delivery_attempt(delivery_id=enqueue(payment).pk)
    gate.set()

    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.attempts.get().error == "timeout"


def test_claim_skips_rows_claimed_or_locked_by_another_dispatcher(setup):
    _, payment = setup
    first = enqueue(payment)
    second = enqueue(payment)
    type(first).objects.filter(pk__in=[first.pk, second.pk]).update(claimed_until=None)

    claimed = deliveries_claim_due()
    again = deliveries_claim_due()

    assert sorted(claimed) == sorted([first.pk, second.pk])
    assert again == []


@pytest.mark.django_db(transaction=True)
def test_a_claim_skips_rows_another_connection_holds_and_does_not_wait(setup):
    # given two due deliveries, one of them locked by another connection
    _merchant, payment = setup
    held, free = enqueue(payment), enqueue(payment)
    PostbackDelivery.objects.filter(pk__in=[held.pk, free.pk]).update(claimed_until=None)
    locked, release = threading.Event(), threading.Event()

    def hold_lock():
        with transaction.atomic():
            PostbackDelivery.objects.select_for_update().get(pk=held.pk)
            locked.set()
            release.wait(10)
        connections.close_all()

    holder = threading.Thread(target=hold_lock)
    holder.start()
    try:
        assert locked.wait(5)
        # when this connection claims
        claimed = deliveries_claim_due()
    finally:
        release.set()
        holder.join()

    # then it took the free row at once and left the locked one alone
    assert claimed == [free.pk]


def test_test_postback_reports_the_merchants_answer(setup, receiver):
    merchant, _ = setup
    receiver.script = [(204, {}, b"")]

    result = delivery_send_test(merchant=merchant, url=receiver.url)

    assert result.succeeded
    assert result.status_code == 204
    assert receiver.requests[0].json["event"] == "postback.test"
    assert receiver.requests[0].verified_with == [merchant.postback_secret]


def test_retry_schedule_has_jitter_and_an_end(settings):
    settings.POSTBACK_RETRY_SCHEDULE = [0, 5, 300]
    settings.POSTBACK_RETRY_JITTER = 0.1

    delays = [retry_delay_seconds(attempts_made=1) for _ in range(50)]

    assert all(4.5 <= d <= 5.5 for d in delays)
    assert len(set(delays)) > 1
    assert retry_delay_seconds(attempts_made=3) is None


def test_retry_after_reads_seconds_and_http_dates():
    now = timezone.now()
    assert retry_after_seconds("30") == 30
    http_date = (now + timedelta(seconds=60)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert 55 <= retry_after_seconds(http_date, now=now) <= 61
    assert retry_after_seconds("soon") is None


def test_each_attempt_is_counted_by_outcome(setup, receiver):
    from prometheus_client import REGISTRY

    def count(outcome):
        return REGISTRY.get_sample_value("apaygate_deliveries_total", {"outcome": outcome}) or 0.0

    _merchant, payment = setup
    receiver.script = [(500, {}, b"no"), (204, {}, b"")]
    delivery = enqueue(payment)
    retrying, delivered = count("retrying"), count("delivered")

    delivery_attempt(delivery_id=delivery.pk)
    PostbackDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    delivery_attempt(delivery_id=delivery.pk)

    assert (count("retrying"), count("delivered")) == (retrying + 1, delivered + 1)
