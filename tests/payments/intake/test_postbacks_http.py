"""Postbacks over HTTP: the intake views, the sandbox pay page, the merchant API, the admin."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from payments.delivery.outbox import delivery_enqueue
from payments.models import (
    AuditEntry,
    DeliveryStatus,
    EventType,
    PaymentEvent,
    PaymentStatus,
    PostbackDelivery,
)
from tests.factories import MerchantFactory, PaymentFactory
from tests.payments.intake.test_postbacks import sandbox_raw, tele_raw

pytestmark = pytest.mark.django_db


def post_raw(client, url, raw):
    return client.post(url, data=raw.body, content_type="application/json", headers=raw.headers)


def test_well_signed_postback_over_http_is_applied(client):
    payment = PaymentFactory(merchant=MerchantFactory(provider="sandbox"))

    response = post_raw(client, "/api/payment-verify/sandbox", sandbox_raw(payment))

    assert response.status_code == 200
    assert response.json() == {
        "status": "success",
        "code": "applied",
        "paymentId": payment.public_id,
    }
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED


def test_unverifiable_postback_over_http_is_400_with_a_code(client):
    payment = PaymentFactory(merchant=MerchantFactory(provider="sandbox"))
    raw = sandbox_raw(payment)
    headers = {**raw.headers, "webhook-signature": "v1,AAAA"}

    response = client.post(
        "/api/payment-verify/sandbox",
        data=raw.body,
        content_type="application/json",
        headers=headers,
    )

    assert response.status_code == 400
    assert response.json() == {
        "status": "error",
        "code": "invalid_signature",
        "message": "The postback could not be verified.",
    }
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING


def test_default_route_uses_the_default_provider(client, settings):
    settings.DEFAULT_PROVIDER = "tele"
    payment = PaymentFactory(
        merchant=MerchantFactory(provider="tele"), provider="tele", provider_currency="TUSD"
    )

    response = post_raw(client, "/api/payment-verify", tele_raw(payment))

    assert response.status_code == 200
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED


def test_intake_refuses_get(client):
    assert client.get("/api/payment-verify/sandbox").status_code == 405


def test_sandbox_page_shows_amount_and_buttons(client):
    payment = PaymentFactory(
        merchant=MerchantFactory(name="Acme"), provider_reference="sbx_abc", is_test=True
    )

    response = client.get("/sandbox/pay/sbx_abc")

    html = response.content.decode()
    assert response.status_code == 200
    assert "100.00 USD" in html
    assert 'value="success"' in html and 'value="failure"' in html
    assert payment.merchant.name in html


@pytest.mark.parametrize(
    ("outcome", "status", "target"),
    [("success", "succeeded", "success"), ("failure", "failed", "error")],
)
def test_sandbox_buttons_settle_the_payment_and_return_the_shopper(client, outcome, status, target):
    payment = PaymentFactory(provider_reference="sbx_btn", is_test=True)

    response = client.post("/sandbox/pay/sbx_btn", {"outcome": outcome})

    assert response.status_code == 302
    assert response["Location"] == f"/integration/{target}?id={payment.public_id}"
    payment.refresh_from_db()
    assert payment.status == status
    assert PostbackDelivery.objects.get(payment=payment).event == f"payment.{status}"
    received = PaymentEvent.objects.get(payment=payment, type=EventType.POSTBACK_RECEIVED)
    assert received.payload["provider"] == "sandbox"


def test_sandbox_serves_test_payments_even_when_off(client, settings):
    settings.SANDBOX_ENABLED = False
    PaymentFactory(provider_reference="sbx_live", is_test=False)
    PaymentFactory(provider_reference="sbx_test", is_test=True)

    assert client.get("/sandbox/pay/sbx_live").status_code == 404
    assert client.get("/sandbox/pay/sbx_test").status_code == 200


def test_sandbox_ignores_other_providers_references(client):
    PaymentFactory(
        merchant=MerchantFactory(provider="tele"), provider="tele", provider_reference="inv1"
    )

    assert client.get("/sandbox/pay/inv1").status_code == 404


# --- merchant API ---------------------------------------------------------------------


def test_merchant_resends_a_payments_postback(api, merchant):
    payment = PaymentFactory(merchant=merchant, status=PaymentStatus.SUCCEEDED)
    delivery = delivery_enqueue(payment=payment, event="payment.succeeded")
    PostbackDelivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.FAILED, attempt_count=10
    )

    response = api.post(f"/api/v1/payments/{payment.public_id}/postbacks/resend")

    assert response.status_code == 202
    assert response.json()["webhookId"] == delivery.webhook_id
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_count) == (DeliveryStatus.PENDING, 0)


def test_resend_creates_the_postback_for_a_final_payment_without_one(api, merchant):
    payment = PaymentFactory(merchant=merchant, status=PaymentStatus.FAILED)

    response = api.post(f"/api/v1/payments/{payment.public_id}/postbacks/resend")

    assert response.status_code == 202
    assert response.json()["event"] == "payment.failed"


def test_resend_of_a_pending_payment_without_postbacks_is_409(api, merchant):
    payment = PaymentFactory(merchant=merchant, status=PaymentStatus.PENDING)

    response = api.post(f"/api/v1/payments/{payment.public_id}/postbacks/resend")

    assert response.status_code == 409
    assert response.json()["code"] == "not_final"


def test_resend_of_another_merchants_payment_is_404(api):
    other = PaymentFactory(merchant=MerchantFactory(), status=PaymentStatus.SUCCEEDED)

    response = api.post(f"/api/v1/payments/{other.public_id}/postbacks/resend")

    assert response.status_code == 404
    assert not PostbackDelivery.objects.exists()


def test_resend_needs_a_token(client):
    payment = PaymentFactory(status=PaymentStatus.SUCCEEDED)

    assert client.post(f"/api/v1/payments/{payment.public_id}/postbacks/resend").status_code == 401


def test_merchant_sends_a_test_postback(api, merchant, receiver, settings):
    settings.POSTBACK_ALLOW_PRIVATE = True
    settings.DEBUG = True  # the loopback receiver speaks plain http
    receiver.secrets = [merchant.postback_secret]

    response = api.post("/api/v1/postbacks/test", {"url": receiver.url}, format="json")

    body = response.json()
    assert response.status_code == 200
    assert body["delivered"] is True
    assert body["statusCode"] == 200
    assert receiver.requests[0].verified_with == [merchant.postback_secret]
    assert receiver.requests[0].headers["webhook-id"] == body["webhookId"]
    entry = AuditEntry.objects.get(action="postback.test")
    assert entry.actor.startswith("api:apg_")
    assert entry.target == f"merchant:{merchant.slug}"
    assert entry.changes["status_code"] == 200


def test_test_postback_to_a_private_address_is_refused(api, settings, receiver):
    settings.POSTBACK_ALLOW_PRIVATE = False
    settings.DEBUG = True  # so the address rule, not the https rule, is what refuses it

    response = api.post("/api/v1/postbacks/test", {"url": receiver.url}, format="json")

    assert response.status_code == 400
    assert "url" in response.json()["errors"]
    assert receiver.requests == []


# --- admin ----------------------------------------------------------------------------


@pytest.fixture
def staff_client(client):
    user = get_user_model().objects.create_superuser("staff", "staff@example.com", "pw-12345678")
    client.force_login(user)
    return client


def test_admin_lists_deliveries_with_attempts_and_filters_by_status(staff_client):
    payment = PaymentFactory(status=PaymentStatus.SUCCEEDED)
    delivery = delivery_enqueue(payment=payment, event="payment.succeeded")

    listing = staff_client.get("/admin/payments/postbackdelivery/?status__exact=pending")
    detail = staff_client.get(f"/admin/payments/postbackdelivery/{delivery.pk}/change/")

    assert listing.status_code == 200
    assert delivery.webhook_id in listing.content.decode()
    assert detail.status_code == 200
    assert "Resend" in detail.content.decode()


def test_admin_bulk_resend_calls_the_service(staff_client):
    deliveries = []
    for _ in range(2):
        payment = PaymentFactory(status=PaymentStatus.SUCCEEDED)
        d = delivery_enqueue(payment=payment, event="payment.succeeded")
        PostbackDelivery.objects.filter(pk=d.pk).update(status=DeliveryStatus.FAILED)
        deliveries.append(d)

    response = staff_client.post(
        "/admin/payments/postbackdelivery/",
        {"action": "resend_selected", "_selected_action": [d.pk for d in deliveries]},
    )

    assert response.status_code == 302
    assert set(PostbackDelivery.objects.values_list("status", flat=True)) == {
        DeliveryStatus.PENDING
    }
    assert PaymentEvent.objects.filter(type=EventType.DELIVERY_RESENT).count() == 2


def test_admin_single_resend(staff_client):
    payment = PaymentFactory(status=PaymentStatus.SUCCEEDED)
    d = delivery_enqueue(payment=payment, event="payment.succeeded")
    PostbackDelivery.objects.filter(pk=d.pk).update(status=DeliveryStatus.FAILED)

    response = staff_client.post(f"/admin/payments/postbackdelivery/{d.pk}/resend/")

    assert response.status_code == 302
    d.refresh_from_db()
    assert d.status == DeliveryStatus.PENDING


def test_test_postback_url_must_be_https_when_debug_is_off(api, settings):
    settings.DEBUG = False

    response = api.post("/api/v1/postbacks/test", {"url": "http://93.184.216.34/pb"}, format="json")

    assert response.status_code == 400
    assert "url" in response.json()["errors"]


@pytest.mark.parametrize(("postback_url", "queries"), [("", 6), ("https://shop.example/pb", 8)])
def test_an_applied_postback_costs_few_queries(
    client, django_assert_num_queries, postback_url, queries
):
    # The lock and read, the duplicate check, one UPDATE (paid amount and status), one
    # INSERT for both events, in a transaction; the merchant's postback adds its outbox
    # row and the 410 check (payments/delivery/outbox.py).
    payment = PaymentFactory(
        merchant=MerchantFactory(provider="sandbox"), postback_url=postback_url
    )

    with django_assert_num_queries(queries):
        response = post_raw(client, "/api/payment-verify/sandbox", sandbox_raw(payment))

    assert response.json()["code"] == "applied"
    payment.refresh_from_db()
    assert (payment.status, payment.paid_amount) == (PaymentStatus.SUCCEEDED, payment.amount)
    events = list(payment.events.order_by("occurred_at").values_list("type", "status"))
    assert events == [
        (EventType.POSTBACK_RECEIVED, PaymentStatus.PENDING),
        (EventType.PAYMENT_SUCCEEDED, PaymentStatus.SUCCEEDED),
    ]
