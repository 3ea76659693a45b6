"""The portal's view of postback endpoints: the banner, the Developers page, re-enabling."""

from __future__ import annotations

import pytest
from django.utils import timezone

from payments.models import (
    AuditEntry,
    DeliveryStatus,
    EventType,
    PostbackDelivery,
    PostbackEndpoint,
)
from payments.models.endpoints import endpoint_url_hash
from tests.factories import PaymentFactory

pytestmark = pytest.mark.django_db

URL = "https://shop-a.example/postback"


def _disabled_endpoint(merchant) -> PostbackEndpoint:
    now = timezone.now()
    return PostbackEndpoint.objects.create(
        merchant=merchant, url=URL, url_hash=endpoint_url_hash(URL), failing_since=now,
        disabled_at=now, disabled_reason="answered 410 Gone", last_status_code=410,
    )  # fmt: skip


def _held(merchant) -> PostbackDelivery:
    payment = PaymentFactory(merchant=merchant, postback_url=URL)
    return PostbackDelivery.objects.create(
        payment=payment, webhook_id=f"msg_{payment.pk}", event=EventType.PAYMENT_SUCCEEDED,
        url=URL, payload={}, next_attempt_at=None,
    )  # fmt: skip


def test_every_portal_page_shows_a_banner_while_an_endpoint_is_disabled(client_a, merchant_a):
    assert 'data-testid="endpoint-banner"' not in client_a.get("/portal/").content.decode()
    _disabled_endpoint(merchant_a)

    page = client_a.get("/portal/").content.decode()

    assert 'data-testid="endpoint-banner"' in page
    assert "1 postback endpoint disabled" in page


def test_reenabling_from_the_developers_page_releases_held_postbacks(client_a, merchant_a):
    endpoint = _disabled_endpoint(merchant_a)
    held = _held(merchant_a)
    page = client_a.get("/portal/developers/").content.decode()
    assert URL in page and "Re-enable" in page

    response = client_a.post(f"/portal/developers/endpoints/{endpoint.pk}/enable/")

    assert response.status_code == 302
    endpoint.refresh_from_db()
    held.refresh_from_db()
    assert endpoint.disabled_at is None
    assert held.status == DeliveryStatus.PENDING and held.next_attempt_at is not None
    assert AuditEntry.objects.filter(action="endpoint.enable").exists()


def test_another_merchants_endpoint_cannot_be_reenabled(client_a, merchant_b):
    endpoint = _disabled_endpoint(merchant_b)

    response = client_a.post(f"/portal/developers/endpoints/{endpoint.pk}/enable/")

    assert response.status_code == 404
    endpoint.refresh_from_db()
    assert endpoint.disabled_at is not None


def test_staff_reenable_from_the_admin(admin_client, merchant_a):
    endpoint = _disabled_endpoint(merchant_a)
    assert admin_client.get("/admin/payments/postbackendpoint/").status_code == 200

    admin_client.post(
        "/admin/payments/postbackendpoint/",
        {"action": "reenable", "_selected_action": [endpoint.pk]},
    )

    endpoint.refresh_from_db()
    assert endpoint.disabled_at is None
    assert AuditEntry.objects.get(action="endpoint.enable").actor == "staff:admin"
