"""The hosted waiting page for providers that never redirect back (Telegram)."""

from __future__ import annotations

import pytest

from payments.models import PaymentStatus
from tests.factories import PaymentFactory

pytestmark = pytest.mark.django_db


def test_waiting_page_polls_the_status_endpoint_while_pending(client):
    payment = PaymentFactory(status=PaymentStatus.PENDING)

    response = client.get(f"/integration/status?id={payment.public_id}")

    assert response.status_code == 200
    assert f"/integration/status.json?id={payment.public_id}" in response.content.decode()
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


def test_status_json_reports_pending_without_a_target(client):
    payment = PaymentFactory(status=PaymentStatus.PENDING)

    data = client.get(f"/integration/status.json?id={payment.public_id}").json()

    assert data == {
        "paymentId": payment.public_id,
        "status": "pending",
        "statusLabel": "Waiting for confirmation",
        "final": False,
        "redirectUrl": None,
    }


@pytest.mark.parametrize(
    ("status", "target"),
    [
        (PaymentStatus.SUCCEEDED, "success"),
        (PaymentStatus.FAILED, "error"),
        (PaymentStatus.EXPIRED, "error"),
        (PaymentStatus.PROVIDER_ERROR, "error"),
    ],
)
def test_final_payment_forwards_through_the_gateway_return_urls(client, status, target):
    payment = PaymentFactory(status=status)

    data = client.get(f"/integration/status.json?id={payment.public_id}").json()
    page = client.get(f"/integration/status?id={payment.public_id}")

    assert data["final"] is True
    assert data["redirectUrl"] == f"/integration/{target}?id={payment.public_id}"
    assert page.status_code == 302
    assert page["Location"] == data["redirectUrl"]


def test_unknown_payment_is_404(client):
    assert client.get("/integration/status?id=pay_nope").status_code == 404
    assert client.get("/integration/status.json?id=pay_nope").status_code == 404
    assert client.get("/integration/status.json").status_code == 404
