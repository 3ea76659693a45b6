"""Resend from the portal goes through payments.delivery.resend.delivery_resend."""

from __future__ import annotations

import pytest
from django.utils import timezone

from payments.models import DeliveryAttempt, PaymentEvent, PostbackDelivery
from tests.reporting.conftest import make_payment

pytestmark = pytest.mark.django_db


def test_merchant_resends_a_failed_postback_and_the_old_attempts_stay(
    client_a, merchant_a, user_a, django_capture_on_commit_callbacks
):
    payment = make_payment(merchant=merchant_a, status="succeeded")
    delivery = PostbackDelivery.objects.create(
        payment=payment,
        webhook_id="msg_resend_1",
        event="payment.succeeded",
        url=payment.postback_url,
        payload={"event": "payment.succeeded"},
        status="failed",
        attempt_count=10,
        last_error="connection refused",
    )
    DeliveryAttempt.objects.create(delivery=delivery, started_at=timezone.now(), error="refused")
    url = f"/portal/payments/{payment.public_id}/postbacks/{delivery.pk}/resend/"

    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = client_a.post(url, follow=True)

    assert response.redirect_chain[-1][0] == f"/portal/payments/{payment.public_id}/"
    assert "Postback queued for delivery again." in response.content.decode()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_count, delivery.webhook_id) == (
        "pending",
        0,
        "msg_resend_1",
    )
    assert delivery.attempts.count() == 1
    event = PaymentEvent.objects.get(payment=payment, type="delivery.resent")
    assert event.payload["by"] == f"portal:user-{user_a.pk}"
    assert "@" not in str(event.payload)
    assert len(queued) == 1  # handed to a worker after commit


def test_resend_needs_post(client_a, merchant_a):
    payment = make_payment(merchant=merchant_a)
    delivery = PostbackDelivery.objects.create(
        payment=payment,
        webhook_id="msg_get",
        event="payment.succeeded",
        url="https://x.example",
        payload={},
    )

    response = client_a.get(f"/portal/payments/{payment.public_id}/postbacks/{delivery.pk}/resend/")

    assert response.status_code == 405
