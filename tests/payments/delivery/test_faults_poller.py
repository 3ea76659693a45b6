"""The workers' outbox poller delivers without any broker, and never sends an attempt twice."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connections

from payments.delivery.poller import DeliveryPoller
from payments.intake.services import postback_receive
from payments.models import DeliveryStatus, PostbackDelivery
from tests.factories import MerchantFactory, PaymentFactory
from tests.payments.intake.test_postbacks import sandbox_raw
from tests.support.gateway import celery_broker, free_port

pytestmark = [pytest.mark.fault, pytest.mark.django_db(transaction=True)]


def _tick(poller) -> None:
    """One scan from a thread of its own, which gives its database connection back."""
    try:
        poller.tick()
    finally:
        connections.close_all()


def _tick_until_delivered(pollers, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        threads = [threading.Thread(target=_tick, args=(poller,)) for poller in pollers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if not PostbackDelivery.objects.filter(status=DeliveryStatus.PENDING).exists():
            return
        time.sleep(0.2)
    raise AssertionError("postbacks still pending")


def test_postbacks_are_delivered_from_postgresql_with_no_broker_at_all(worker_settings, receiver):
    # given postbacks accepted while nothing listens where the broker should be
    merchant = MerchantFactory()
    receiver.secrets = [merchant.postback_secret]
    payments = [PaymentFactory(merchant=merchant, postback_url=receiver.url) for _ in range(5)]
    with celery_broker(f"redis://127.0.0.1:{free_port()}/0"):
        started = time.monotonic()
        for payment in payments:
            assert postback_receive(provider_key="sandbox", raw=sandbox_raw(payment)).code == (
                "applied"
            )
        accepting = time.monotonic() - started

    # when a worker's poller runs (no Celery, no broker)
    poller = DeliveryPoller(interval=0.2, concurrency=4)
    try:
        _tick_until_delivered([poller], timeout=30)
    finally:
        poller.stop()

    # then every postback went out, signed, and accepting them never waited on the broker
    assert PostbackDelivery.objects.filter(status=DeliveryStatus.SUCCEEDED).count() == 5
    assert all(r.verified_with for r in receiver.requests)
    assert accepting < 5 * 2, f"accepting 5 postbacks took {accepting:.1f}s"


def test_two_pollers_never_send_the_same_attempt_twice(worker_settings, receiver):
    # given 20 due deliveries and two pollers racing for them
    merchant = MerchantFactory()
    receiver.secrets = [merchant.postback_secret]
    with celery_broker(f"redis://127.0.0.1:{free_port()}/0"):
        for _ in range(20):
            payment = PaymentFactory(merchant=merchant, postback_url=receiver.url)
            postback_receive(provider_key="sandbox", raw=sandbox_raw(payment))
    pollers = [DeliveryPoller(interval=0.2, concurrency=8) for _ in range(2)]

    # when both tick at the same time until all are delivered
    try:
        _tick_until_delivered(pollers, timeout=30)
    finally:
        for poller in pollers:
            poller.stop()

    # then each postback reached the merchant exactly once
    ids = [r.headers["webhook-id"] for r in receiver.requests]
    assert len(ids) == 20
    assert sorted(ids) == sorted(PostbackDelivery.objects.values_list("webhook_id", flat=True))
