"""Every test outcome on demand: magic e-mails through the API, and the sandbox page's buttons.

The in-process tests check what each outcome does to the payment; the worker tests check
what the merchant's endpoint receives, through a real Celery worker.
"""

from __future__ import annotations

import time

import pytest
from django.test import Client

from payments.models import DeliveryStatus, EventType, Payment, PaymentStatus, PostbackDelivery
from providers.sandbox import MAGIC_EMAIL_DOMAIN
from tests.factories import MerchantFactory, make_token

BODY = {
    "id": "order-7",
    "amount": "100.00",
    "currency": "USD",
    "successUrl": "https://shop.example/ok",
    "errorUrl": "https://shop.example/ko",
    "postbackUrl": "https://shop.example/postback",
}


def magic(local: str) -> str:
    return f"{local}@{MAGIC_EMAIL_DOMAIN}"


def init(api, local: str, **extra):
    body = {**BODY, "customerEmail": magic(local), **extra}
    return api.post("/api/v1/init-payment", body, format="json")


@pytest.fixture
def test_api(merchant):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {make_token(merchant=merchant, mode='test')[1]}")
    return client


@pytest.mark.parametrize(
    ("local", "status", "event"),
    [
        ("paid", PaymentStatus.SUCCEEDED, "payment.succeeded"),
        ("declined", PaymentStatus.FAILED, "payment.failed"),
        ("expired", PaymentStatus.EXPIRED, "payment.expired"),
        ("postback-twice", PaymentStatus.SUCCEEDED, "payment.succeeded"),
    ],
)
def test_a_magic_email_settles_the_payment_from_the_api_alone(test_api, local, status, event):
    response = init(test_api, local)

    assert response.status_code == 201
    payment = Payment.objects.get(public_id=response.json()["id"])
    assert payment.status == status
    assert PostbackDelivery.objects.get(payment=payment).event == event
    detail = test_api.get(f"/api/v1/payments/{payment.public_id}").json()
    assert detail["status"] == status


def test_paid_a_different_amount_is_flagged_and_stays_pending(test_api):
    response = init(test_api, "paid-other-amount")

    payment = Payment.objects.get(public_id=response.json()["id"])
    assert payment.status == PaymentStatus.PENDING
    assert payment.needs_review
    assert str(payment.paid_amount.normalize()) == "99.99"
    assert PostbackDelivery.objects.get(payment=payment).event == "payment.flagged"


def test_provider_unavailable_is_a_503_and_does_not_open_the_breaker(test_api):
    outages = [init(test_api, "provider-unavailable", id=f"o-{n}") for n in range(8)]
    after = init(test_api, "nobody-special", id="o-after")

    assert {r.status_code for r in outages} == {503}
    assert outages[0].json()["code"] == "provider_unavailable"
    assert after.status_code == 201
    assert Payment.objects.get(merchant_reference="o-0").status == PaymentStatus.PROVIDER_ERROR


def test_an_ordinary_email_waits_for_the_shopper(test_api):
    response = init(test_api, "nobody-special")

    payment = Payment.objects.get(public_id=response.json()["id"])
    assert payment.status == PaymentStatus.PENDING
    assert not PostbackDelivery.objects.filter(payment=payment).exists()


def test_magic_emails_do_nothing_special_for_a_live_provider(db):
    merchant = MerchantFactory(provider="sandbox")
    from rest_framework.test import APIClient

    live = APIClient()
    live.credentials(HTTP_AUTHORIZATION=f"Token {make_token(merchant=merchant)[1]}")
    # A live token with the sandbox (development only) still takes magic e-mails: the
    # sandbox is a simulator whatever the token; real providers never see them.
    response = init(live, "declined")

    assert Payment.objects.get(public_id=response.json()["id"]).status == PaymentStatus.FAILED


@pytest.mark.parametrize(
    ("outcome", "status", "target"),
    [
        ("other_amount", PaymentStatus.PENDING, "success"),
        ("expire", PaymentStatus.EXPIRED, "error"),
        ("twice", PaymentStatus.SUCCEEDED, "success"),
        ("delayed", PaymentStatus.PENDING, "success"),
    ],
)
def test_the_sandbox_page_offers_each_outcome(test_api, outcome, status, target):
    payment = Payment.objects.get(public_id=init(test_api, "nobody-special").json()["id"])
    shopper = Client()
    page = shopper.get(f"/sandbox/pay/{payment.provider_reference}").content.decode()
    assert f'value="{outcome}"' in page

    response = shopper.post(f"/sandbox/pay/{payment.provider_reference}", {"outcome": outcome})

    assert response["Location"] == f"/integration/{target}?id={payment.public_id}"
    payment.refresh_from_db()
    assert payment.status == status


# --- through a real worker: what the merchant's endpoint receives -----------------------


def _wait(condition, *, timeout: float, stack) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"condition not met in {timeout}s; celery logs:\n{stack.logs()}")


@pytest.fixture
def worker_api(celery_stack, receiver, settings):
    settings.SANDBOX_POSTBACK_DELAY = 2.0
    settings.DEBUG = True  # the receiver is plain http on loopback, as in development
    merchant = MerchantFactory(slug="outcomes", provider="sandbox")
    receiver.secrets = [merchant.postback_secret]
    celery_stack.worker()
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {make_token(merchant=merchant, mode='test')[1]}")
    return client


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_postback_sent_twice_reaches_the_merchant_twice_with_one_webhook_id(
    worker_api, receiver, celery_stack
):
    init(worker_api, "postback-twice", postbackUrl=receiver.url)

    _wait(lambda: len(receiver.requests) >= 2, timeout=30, stack=celery_stack)
    first, second = receiver.requests[:2]
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.body == second.body
    assert first.json["event"] == "payment.succeeded"
    assert all(r.verified_with for r in receiver.requests)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_postback_delayed_confirms_the_payment_late(worker_api, receiver, celery_stack):
    answer = init(worker_api, "postback-delayed", postbackUrl=receiver.url)
    payment = Payment.objects.get(public_id=answer.json()["id"])
    assert payment.status == PaymentStatus.PENDING  # the shopper is back before the postback

    _wait(lambda: len(receiver.requests) >= 1, timeout=30, stack=celery_stack)
    assert receiver.requests[0].json["event"] == "payment.succeeded"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    confirmed = payment.events.get(type=EventType.PAYMENT_SUCCEEDED).occurred_at
    assert (confirmed - payment.created_at).total_seconds() >= 2.0


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("local", "event"),
    [
        ("paid", "payment.succeeded"),
        ("declined", "payment.failed"),
        ("paid-other-amount", "payment.flagged"),
        ("expired", "payment.expired"),
    ],
)
def test_each_settled_outcome_reaches_the_merchant(
    worker_api, receiver, celery_stack, local, event
):
    init(worker_api, local, postbackUrl=receiver.url)

    _wait(lambda: len(receiver.requests) >= 1, timeout=30, stack=celery_stack)
    assert receiver.requests[0].json["event"] == event
    assert receiver.requests[0].verified_with
    _wait(
        lambda: PostbackDelivery.objects.filter(status=DeliveryStatus.SUCCEEDED).exists(),
        timeout=10,
        stack=celery_stack,
    )
