"""Fault injection: a worker killed mid-attempt, Redis stopped and restarted.

Each ends with the postback delivered and nothing lost. Run alone with `-m fault`.
"""

from __future__ import annotations

import os
import time

import pytest

from payments.intake.services import postback_receive
from payments.models import DeliveryStatus, PostbackDelivery
from tests.factories import MerchantFactory, PaymentFactory
from tests.payments.delivery.test_worker import wait_for_delivery
from tests.payments.intake.test_postbacks import sandbox_raw
from tests.support.gateway import CeleryStack, celery_broker, hang_until_released

pytestmark = [pytest.mark.fault, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

# 10 s keeps `make test` short; FAULT_REDIS_OUTAGE_SECONDS=60 gives the full minute.
REDIS_OUTAGE_SECONDS = float(os.environ.get("FAULT_REDIS_OUTAGE_SECONDS", "10"))


def test_worker_killed_mid_attempt_loses_nothing(celery_stack, receiver):
    # given a merchant whose first answer never comes (the attempt stays in flight)
    merchant = MerchantFactory()
    receiver.secrets = [merchant.postback_secret]
    receiver.script = [hang_until_released(receiver)]
    payments = [PaymentFactory(merchant=merchant, postback_url=receiver.url) for _ in range(3)]
    worker, _beat = celery_stack.worker_and_beat()

    postback_receive(provider_key="sandbox", raw=sandbox_raw(payments[0]))
    assert receiver.arrived.wait(20), celery_stack.logs()

    # when the worker is killed with SIGKILL while that attempt is in flight,
    # and more postbacks arrive while no worker runs
    worker.kill()
    for payment in payments[1:]:
        postback_receive(provider_key="sandbox", raw=sandbox_raw(payment))
    time.sleep(1)
    celery_stack.worker()

    # then every postback is delivered, the interrupted one with its webhook-id kept
    for payment in payments:
        delivery = wait_for_delivery(payment, timeout=60, stack=celery_stack)
        assert delivery.status == DeliveryStatus.SUCCEEDED
    first = PostbackDelivery.objects.get(payment=payments[0])
    errors = [a.error for a in first.attempts.all()]
    assert errors[0].startswith("interrupted")
    assert first.attempts.last().status_code == 200
    delivered_ids = [r.headers["webhook-id"] for r in receiver.requests]
    assert delivered_ids.count(first.webhook_id) == 2
    assert {d.webhook_id for d in PostbackDelivery.objects.all()} <= set(delivered_ids)
    assert all(r.verified_with for r in receiver.requests)


def test_redis_down_and_back_loses_nothing(
    transactional_db, worker_settings, receiver, own_redis, tmp_path
):
    # given a worker and beat on a private Redis
    merchant = MerchantFactory()
    receiver.secrets = [merchant.postback_secret]
    payments = [PaymentFactory(merchant=merchant, postback_url=receiver.url) for _ in range(4)]
    stack = CeleryStack(broker_url=own_redis.url, tmp=tmp_path)
    try:
        with celery_broker(own_redis.url):
            stack.worker_and_beat()
            postback_receive(provider_key="sandbox", raw=sandbox_raw(payments[0]))
            wait_for_delivery(payments[0], timeout=20, stack=stack)

            # when Redis stops (queued messages are lost with it) while postbacks arrive
            own_redis.stop()
            started = time.monotonic()
            for payment in payments[1:]:
                result = postback_receive(provider_key="sandbox", raw=sandbox_raw(payment))
                assert result.code == "applied"
            time.sleep(REDIS_OUTAGE_SECONDS)
            own_redis.start()
            downtime = time.monotonic() - started

            # then each postback still goes out once Redis is back
            for payment in payments:
                delivery = wait_for_delivery(
                    payment, timeout=90 + REDIS_OUTAGE_SECONDS, stack=stack
                )
                assert delivery.status == DeliveryStatus.SUCCEEDED, stack.logs()
    finally:
        stack.stop_all()
    assert downtime >= REDIS_OUTAGE_SECONDS
    assert sorted(r.headers["webhook-id"] for r in receiver.requests) == sorted(
        PostbackDelivery.objects.values_list("webhook_id", flat=True)
    )
