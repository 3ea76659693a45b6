"""A worker asked to stop (SIGTERM) with 64 postbacks in flight: it exits within its grace,
nothing is lost, and only attempts that had reached the merchant are sent twice."""

from __future__ import annotations

import time
from collections import Counter

import pytest
from django.db import transaction

from payments.delivery.outbox import delivery_enqueue
from payments.models import DeliveryStatus, PostbackDelivery
from tests.factories import MerchantFactory, PaymentFactory
from tests.support.gateway import hang_until_released

pytestmark = [pytest.mark.fault, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

IN_FLIGHT = 64
WAITING = 16  # claimed ahead, behind the 64 senders: never sent before the stop
STOP_GRACE = 2.0
# The grace, Celery's own warm shutdown and the interpreter's exit: what `docker stop`
# and Kubernetes must allow (deploy/README.md).
EXIT_BOUND = STOP_GRACE + 8.0


def _wait_until(condition, *, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_sigterm_with_64_postbacks_in_flight_exits_in_time_and_loses_nothing(
    celery_stack, receiver
):
    # given a merchant that holds every request open, and 80 due postbacks
    merchant = MerchantFactory()
    receiver.secrets = [merchant.postback_secret]
    receiver.script = [hang_until_released(receiver)] * IN_FLIGHT
    with transaction.atomic():
        for _ in range(IN_FLIGHT + WAITING):
            delivery_enqueue(
                payment=PaymentFactory(
                    merchant=merchant, postback_url=receiver.url, status="succeeded"
                ),
                event="payment.succeeded",
            )
    celery_stack.extra_env.update(
        {
            "POSTBACK_POLL_CONCURRENCY": str(IN_FLIGHT),
            # all 80 go to one URL: lift the per-endpoint cap (payments/delivery/health.py,
            # default 48) so that 64 really are in flight, not 48 with the rest waiting for a slot
            "POSTBACK_ENDPOINT_CONCURRENCY": str(IN_FLIGHT),
            "POSTBACK_STOP_GRACE": str(STOP_GRACE),
            # the held requests neither time out nor outlive their lease meanwhile
            "POSTBACK_TIMEOUT": "60",
            "POSTBACK_ATTEMPT_LEASE": "130",
        }
    )
    worker = celery_stack.worker(name="shutdown@test")
    assert _wait_until(lambda: len(receiver.requests) >= IN_FLIGHT, timeout=60), celery_stack.logs()
    reached = {r.headers["webhook-id"] for r in receiver.requests}
    assert len(reached) == IN_FLIGHT

    # when the worker is asked to stop while all 64 are at the merchant
    asked = time.monotonic()
    worker.terminate()
    exit_code = worker.proc.wait(timeout=60)
    took = time.monotonic() - asked
    receiver.release.set()  # the merchant answers the abandoned requests after all

    # then it stopped within its grace, cleanly, and gave back everything it held
    assert took < EXIT_BOUND, f"took {took:.1f}s\n{celery_stack.logs()}"
    assert exit_code == 0, celery_stack.logs()
    assert not PostbackDelivery.objects.filter(claim_token__isnull=False).exists()
    assert "gave back" in worker.log_text()

    # and once a worker runs again, every postback is delivered, none lost
    celery_stack.worker(name="shutdown@test")
    assert _wait_until(
        lambda: not PostbackDelivery.objects.filter(status=DeliveryStatus.PENDING).exists(),
        timeout=60,
    ), celery_stack.logs()
    webhook_ids = set(PostbackDelivery.objects.values_list("webhook_id", flat=True))
    sent = Counter(r.headers["webhook-id"] for r in receiver.requests)
    assert set(sent) == webhook_ids
    # duplicates only for attempts that had reached the merchant before the stop
    twice = {webhook_id for webhook_id, count in sent.items() if count > 1}
    assert twice <= reached
    assert max(sent.values()) <= 2
    assert all(r.verified_with for r in receiver.requests)


def test_a_worker_killed_and_restarted_under_its_name_resends_without_waiting_for_the_lease(
    celery_stack, receiver, worker_settings
):
    # given leases and a heartbeat silence far longer than the test: a recovery by either
    # would time out, only the restart's own give-back can be in time
    lease = 300
    worker_settings.POSTBACK_ATTEMPT_LEASE = lease
    celery_stack.extra_env.update(
        {"POSTBACK_ATTEMPT_LEASE": str(lease), "POSTBACK_CLAIMER_STALE": str(lease)}
    )
    merchant = MerchantFactory()
    receiver.secrets = [merchant.postback_secret]
    receiver.script = [hang_until_released(receiver)]
    with transaction.atomic():
        delivery = delivery_enqueue(
            payment=PaymentFactory(
                merchant=merchant, postback_url=receiver.url, status="succeeded"
            ),
            event="payment.succeeded",
        )
    worker = celery_stack.worker(name="restarts@test")
    assert receiver.arrived.wait(60), celery_stack.logs()

    # when the worker is killed (-9) mid-attempt and started again under the same name
    worker.kill()
    celery_stack.worker(name="restarts@test")

    # then its claim was given back at start: the postback went out again well within the lease
    assert _wait_until(
        lambda: PostbackDelivery.objects.get(pk=delivery.pk).status == DeliveryStatus.SUCCEEDED,
        timeout=lease / 5,
    ), celery_stack.logs()
    sent = [r.headers["webhook-id"] for r in receiver.requests]
    assert sent == [delivery.webhook_id] * 2
    errors = [a.error for a in PostbackDelivery.objects.get(pk=delivery.pk).attempts.all()]
    assert errors[0].startswith("interrupted")
