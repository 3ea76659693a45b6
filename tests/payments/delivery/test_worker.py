"""Delivery through a real Celery worker and beat on the Redis broker."""

from __future__ import annotations

import time

import pytest

from payments.intake.services import postback_receive
from payments.models import DeliveryStatus, PaymentStatus, PostbackDelivery
from tests.factories import MerchantFactory, PaymentFactory
from tests.payments.intake.test_postbacks import sandbox_raw

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def wait_for_delivery(payment, *, timeout: float, stack) -> PostbackDelivery:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        delivery = PostbackDelivery.objects.filter(payment=payment).first()
        if delivery and delivery.status != DeliveryStatus.PENDING:
            return delivery
        time.sleep(0.2)
    raise AssertionError(f"not delivered in {timeout}s; celery logs:\n{stack.logs()}")


def test_worker_delivers_after_one_500_with_a_stable_webhook_id(celery_stack, receiver):
    # given a merchant endpoint that fails once, then accepts
    merchant = MerchantFactory()
    receiver.secrets = [merchant.postback_secret]
    receiver.script = [(500, {}, b"try later")]
    payment = PaymentFactory(merchant=merchant, postback_url=receiver.url)
    celery_stack.worker_and_beat()

    # when the provider confirms the payment (twice: a provider retry)
    raw = sandbox_raw(payment)
    postback_receive(provider_key="sandbox", raw=raw)
    postback_receive(provider_key="sandbox", raw=raw)

    # then one logical delivery reached the merchant, on the second try
    delivery = wait_for_delivery(payment, timeout=30, stack=celery_stack)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert PostbackDelivery.objects.filter(payment=payment).count() == 1
    assert [a.status_code for a in delivery.attempts.all()] == [500, 200]
    assert len(receiver.requests) == 2
    assert {r.headers["webhook-id"] for r in receiver.requests} == {delivery.webhook_id}
    assert all(r.verified_with == [merchant.postback_secret] for r in receiver.requests)
    assert receiver.requests[-1].json["status"] == "succeeded"
