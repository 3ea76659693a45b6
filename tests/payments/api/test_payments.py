"""GET /api/v1/payments and /api/v1/payments/<paymentId>: the merchant's own payments only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from payments.models import Payment
from tests.factories import MerchantFactory, PaymentFactory


def test_detail_returns_the_payment_as_a_flat_object(api, merchant):
    payment = PaymentFactory(merchant=merchant, merchant_reference="order-9", amount="12.50")

    data = api.get(f"/api/v1/payments/{payment.public_id}").json()

    assert data["paymentId"] == payment.public_id
    assert data["id"] == "order-9"
    assert data["status"] == "pending"
    assert data["amount"] == "12.50"  # the currency's minor units, as in postbacks
    assert data["currency"] == "USD"
    assert data["successUrl"] == payment.success_url
    assert data["url"].endswith(f"/integration/pay?id={payment.public_id}")
    assert {
        "createdAt",
        "updatedAt",
        "providerAmount",
        "providerCurrency",
        "exchangeRate",
        "postback",
    } <= set(data)


def test_another_merchants_payment_is_a_404(api):
    other = PaymentFactory(merchant=MerchantFactory())

    response = api.get(f"/api/v1/payments/{other.public_id}")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_list_filters_by_reference_status_and_date(api, merchant):
    old = PaymentFactory(merchant=merchant, merchant_reference="a", status="succeeded")
    Payment.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=10))
    PaymentFactory(merchant=merchant, merchant_reference="b", status="failed")
    PaymentFactory(merchant=merchant, merchant_reference="c", status="succeeded")
    PaymentFactory(merchant=MerchantFactory(), merchant_reference="c", status="succeeded")

    by_ref = api.get("/api/v1/payments", {"id": "c"}).json()
    by_status = api.get("/api/v1/payments", {"status": "succeeded"}).json()
    recent = api.get(
        "/api/v1/payments", {"created_after": (timezone.now() - timedelta(days=1)).isoformat()}
    ).json()

    assert [p["id"] for p in by_ref["results"]] == ["c"]
    assert sorted(p["id"] for p in by_status["results"]) == ["a", "c"]
    assert sorted(p["id"] for p in recent["results"]) == ["b", "c"]


def test_list_is_paginated(api, merchant):
    PaymentFactory.create_batch(3, merchant=merchant)

    page = api.get("/api/v1/payments", {"limit": 2}).json()

    assert page["count"] == 3
    assert len(page["results"]) == 2
    assert page["next"]


@pytest.mark.parametrize(
    "params",
    [{"status": "bogus"}, {"created_after": "yesterday"}, {"offset": "null"}, {"limit": 0}],
)
def test_list_rejects_bad_filters_with_json_400(api, params):
    response = api.get("/api/v1/payments", params)

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
