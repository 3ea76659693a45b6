"""Expiry of stale pending payments, with `payment.expired` postbacks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from payments.expiry import payment_expire_stale
from payments.models import EventType, PaymentEvent, PaymentStatus, PostbackDelivery
from payments.tasks import expire_stale_payments
from tests.factories import PaymentFactory

pytestmark = pytest.mark.django_db


def aged(payment, seconds: int):
    type(payment).objects.filter(pk=payment.pk).update(
        created_at=timezone.now() - timedelta(seconds=seconds)
    )
    payment.refresh_from_db()
    return payment


def test_pending_payment_older_than_ttl_expires_and_queues_a_postback(settings):
    settings.PAYMENT_TTL = 3600
    payment = aged(PaymentFactory(status=PaymentStatus.PENDING), 3601)

    assert payment_expire_stale() == 1

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.EXPIRED
    assert payment.finalized_at is not None
    delivery = PostbackDelivery.objects.get(payment=payment)
    assert delivery.event == "payment.expired"
    assert delivery.payload["status"] == "expired"
    assert PaymentEvent.objects.filter(payment=payment, type=EventType.PAYMENT_EXPIRED).exists()


def test_young_final_and_flagged_payments_are_left_alone(settings):
    settings.PAYMENT_TTL = 3600
    young = aged(PaymentFactory(status=PaymentStatus.PENDING), 60)
    paid = aged(PaymentFactory(status=PaymentStatus.SUCCEEDED), 7200)
    flagged = aged(PaymentFactory(status=PaymentStatus.PENDING, needs_review=True), 7200)

    assert expire_stale_payments() == 0

    for payment, status in [(young, "pending"), (paid, "succeeded"), (flagged, "pending")]:
        payment.refresh_from_db()
        assert payment.status == status
    assert not PostbackDelivery.objects.exists()


def test_expiring_twice_sends_one_postback(settings):
    settings.PAYMENT_TTL = 1
    aged(PaymentFactory(status=PaymentStatus.PENDING), 10)

    payment_expire_stale()
    payment_expire_stale()

    assert PostbackDelivery.objects.count() == 1
