"""A worker outlives its broker: Redis killed under a running worker, with a task in flight.

kombu 5.7.0's Redis transport crashed the worker ("Unrecoverable error: AttributeError
'NoneType' object has no attribute 'hostname'") while closing the lost connection and
restoring the unacknowledged message; nothing restarted it. Run alone with `-m fault`.
"""

from __future__ import annotations

import time

import pytest

from payments.intake.services import postback_receive
from payments.models import DeliveryStatus, PostbackDelivery
from payments.task_names import DELIVER_POSTBACK
from tests.factories import MerchantFactory, PaymentFactory
from tests.payments.delivery.test_worker import wait_for_delivery
from tests.payments.intake.test_postbacks import sandbox_raw
from tests.support.gateway import (
    CELERY,
    CeleryStack,
    celery_broker,
    hang_until_released,
)
from tests.support.processes import Process, wait_until

pytestmark = [pytest.mark.fault, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_worker_survives_redis_killed_with_a_task_in_flight(
    transactional_db, worker_settings, receiver, own_redis, tmp_path
):
    # given a worker on a private Redis (the database poller off: only the broker delivers)
    # whose first attempt hangs, so one message is unacknowledged when Redis dies
    merchant = MerchantFactory()
    receiver.secrets = [merchant.postback_secret]
    receiver.script = [hang_until_released(receiver, limit=8)]
    first, second = (PaymentFactory(merchant=merchant, postback_url=receiver.url) for _ in "ab")
    stack = CeleryStack(broker_url=own_redis.url, tmp=tmp_path, extra_env={"POSTBACK_POLL": "0"})
    try:
        with celery_broker(own_redis.url):
            worker = stack.worker()
            postback_receive(provider_key="sandbox", raw=sandbox_raw(first))
            assert receiver.arrived.wait(20), stack.logs()

            # when Redis is killed, the worker notices (where kombu 5.7.0 crashed), and Redis
            # comes back
            own_redis.stop()
            lost = wait_until(lambda: "Connection to broker lost" in worker.log_text(), timeout=30)
            assert lost, stack.logs()
            own_redis.start()
            receiver.release.set()

            # then the worker process is still there and consumes from the broker again
            reconnected = wait_until(
                lambda: worker.log_text().count("Connected to ") >= 2,
                timeout=30,
                failure=worker.exited,
            )
            assert reconnected and worker.running(), stack.logs()
            assert "Unrecoverable error" not in worker.log_text()
            postback_receive(provider_key="sandbox", raw=sandbox_raw(second))
            delivery = PostbackDelivery.objects.get(payment=second)
            from apaygate.celery import app

            app.send_task(DELIVER_POSTBACK, args=(delivery.pk,))
            delivered = wait_for_delivery(second, timeout=40, stack=stack)
            assert delivered.status == DeliveryStatus.SUCCEEDED
            assert worker.proc.poll() is None
    finally:
        stack.stop_all()


def test_worker_killed_while_redis_restarts_still_delivers_every_postback(
    transactional_db, worker_settings, receiver, own_redis_aof, tmp_path
):
    # given a merchant that fails every other answer, a worker and beat on a Redis with AOF
    merchant = MerchantFactory()
    receiver.secrets = [merchant.postback_secret]
    receiver.script = [(500, {}, b"no") if n % 2 else (200, {}, b"ok") for n in range(40)]
    payments = [PaymentFactory(merchant=merchant, postback_url=receiver.url) for _ in range(8)]
    stack = CeleryStack(broker_url=own_redis_aof.url, tmp=tmp_path)
    try:
        with celery_broker(own_redis_aof.url):
            worker, _beat = stack.worker_and_beat()
            for payment in payments[:4]:
                postback_receive(provider_key="sandbox", raw=sandbox_raw(payment))

            # when the worker is killed -9 and Redis with it, postbacks keep arriving,
            # then Redis returns and the worker is restarted a little later
            worker.kill()
            own_redis_aof.stop()
            for payment in payments[4:]:
                assert postback_receive(provider_key="sandbox", raw=sandbox_raw(payment)).code == (
                    "applied"
                )
            time.sleep(3)
            own_redis_aof.start()
            time.sleep(2)
            stack.worker()

            # then every postback is delivered, signed, each under its own webhook-id
            for payment in payments:
                delivery = wait_for_delivery(payment, timeout=60, stack=stack)
                assert delivery.status == DeliveryStatus.SUCCEEDED, stack.logs()
    finally:
        stack.stop_all()
    assert all(r.verified_with for r in receiver.requests)
    delivered = {r.headers["webhook-id"] for r in receiver.requests}
    assert delivered == set(PostbackDelivery.objects.values_list("webhook_id", flat=True))


def test_a_worker_started_while_redis_is_down_still_delivers(
    transactional_db, worker_settings, receiver, own_redis, tmp_path
):
    # given postbacks accepted while Redis is down, and no worker running
    merchant = MerchantFactory()
    receiver.secrets = [merchant.postback_secret]
    payments = [PaymentFactory(merchant=merchant, postback_url=receiver.url) for _ in range(3)]
    own_redis.stop()
    stack = CeleryStack(broker_url=own_redis.url, tmp=tmp_path)
    try:
        with celery_broker(own_redis.url):
            for payment in payments:
                postback_receive(provider_key="sandbox", raw=sandbox_raw(payment))

            # when a worker starts (it cannot reach its broker, so it never says "ready.")
            args = [CELERY, "-A", "apaygate.celery:app", "worker", "--pool", "threads"]
            args += ["--concurrency", "2", "--loglevel", "INFO", "--without-gossip"]
            proc = Process(args, env=stack._env(), log_path=tmp_path / "worker.log")
            stack.processes.append(proc)
            proc.start(ready="postback poller")

            # then its poller delivers every postback from PostgreSQL, with no broker at all
            for payment in payments:
                delivery = wait_for_delivery(payment, timeout=40, stack=stack)
                assert delivery.status == DeliveryStatus.SUCCEEDED
            assert "ready." not in proc.log_text()
    finally:
        stack.stop_all()
