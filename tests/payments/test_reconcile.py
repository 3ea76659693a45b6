"""Nothing stays half-made: a payment left `created` by a dead init request is closed, its
retry is answered at once, and a paid postback for it is credited and flagged."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from payments.intake.services import postback_receive
from payments.models import EventType, Payment, PaymentStatus, PostbackDelivery
from payments.reconcile import INTERRUPTED_CODE, created_grace, payments_reconcile_created
from tests.factories import PaymentFactory
from tests.payments.intake.test_postbacks import sandbox_raw

pytestmark = pytest.mark.django_db

BODY = {
    "id": "order-77",
    "amount": "10.00",
    "currency": "USD",
    "successUrl": "https://shop.example/success",
    "errorUrl": "https://shop.example/error",
    "postbackUrl": "https://shop.example/postback",
}


def _left_created(payment: Payment, *, age: timedelta) -> None:
    """As a web process killed between storing the payment and calling the provider leaves it."""
    Payment.objects.filter(pk=payment.pk).update(
        status=PaymentStatus.CREATED,
        provider_reference="",
        provider_url="",
        created_at=timezone.now() - age,
    )


def test_the_reconciler_closes_only_payments_no_live_request_can_still_be_making():
    # given one payment left `created` past the provider's timeouts, one just created
    abandoned, fresh = PaymentFactory(), PaymentFactory()
    _left_created(abandoned, age=created_grace() + timedelta(seconds=1))
    _left_created(fresh, age=timedelta(seconds=1))

    # when the reconciler runs
    closed = payments_reconcile_created()

    # then the abandoned one is provider_error with a clear code and an event; the fresh is not
    assert closed == 1
    abandoned.refresh_from_db()
    fresh.refresh_from_db()
    assert abandoned.status == PaymentStatus.PROVIDER_ERROR
    assert abandoned.provider_error_code == INTERRUPTED_CODE
    event = abandoned.events.get(type=EventType.PROVIDER_ERROR)
    assert event.payload["code"] == INTERRUPTED_CODE
    assert fresh.status == PaymentStatus.CREATED
    assert payments_reconcile_created() == 0  # nothing twice


def test_a_retry_of_an_abandoned_payment_gets_the_provider_error_answer_at_once(api):
    # given a payment whose init request died mid-call, before any reconcile
    first = api.post("/api/v1/init-payment", BODY, format="json")
    assert first.status_code == 201
    payment = Payment.objects.get(public_id=first.json()["id"])
    _left_created(payment, age=created_grace() + timedelta(seconds=1))

    # when the merchant retries the same id
    retry = api.post("/api/v1/init-payment", BODY, format="json")

    # then it is a definite provider error (never 409 request_in_progress), the payment closed
    assert retry.status_code == 502
    assert retry.json()["code"] == INTERRUPTED_CODE
    assert payment.public_id in retry.json()["message"]
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PROVIDER_ERROR
    again = api.post("/api/v1/init-payment", BODY, format="json")
    assert (again.status_code, again.json()["code"]) == (502, INTERRUPTED_CODE)


@pytest.mark.parametrize("status", [PaymentStatus.CREATED, PaymentStatus.PROVIDER_ERROR])
def test_a_verified_paid_postback_for_an_unfinished_payment_credits_and_flags_it(status):
    # given a payment we never finished making, which the shopper paid at the provider
    payment = PaymentFactory()
    Payment.objects.filter(pk=payment.pk).update(status=status)
    payment.refresh_from_db()

    # when the provider's verified postback says it is paid
    result = postback_receive(provider_key="sandbox", raw=sandbox_raw(payment))

    # then it is credited, flagged for review, and the merchant gets its postback
    assert (result.http_status, result.code) == (200, "applied_flagged")
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.needs_review is True
    assert status in payment.review_reason
    assert payment.events.filter(type=EventType.PAYMENT_FLAGGED).exists()
    (delivery,) = PostbackDelivery.objects.filter(payment=payment)
    assert delivery.event == EventType.PAYMENT_SUCCEEDED


def test_a_declined_postback_for_a_provider_error_payment_changes_nothing():
    payment = PaymentFactory(status=PaymentStatus.PROVIDER_ERROR)

    result = postback_receive(provider_key="sandbox", raw=sandbox_raw(payment, outcome="failure"))

    payment.refresh_from_db()
    assert result.code == "conflict_flagged"
    assert payment.status == PaymentStatus.PROVIDER_ERROR
    assert not PostbackDelivery.objects.filter(payment=payment).exists()
