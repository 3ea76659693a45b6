"""Shopper redirects: to the provider from the KV (or the database), back to the merchant."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from payments.kv import kv_get, kv_store
from payments.models import EventType, PaymentStatus
from payments.shopper.event_buffer import shopper_events_drain
from payments.state import payment_transition
from tests.factories import PaymentFactory

pytestmark = pytest.mark.django_db


def test_pay_redirects_to_the_provider_url_from_the_kv(client, django_assert_max_num_queries):
    payment = PaymentFactory()
    kv_store(payment)

    with django_assert_max_num_queries(0):  # no payment lookup, no synchronous event insert
        response = client.get(f"/integration/pay?id={payment.public_id}")

    assert response.status_code == 302
    assert response["Location"] == payment.provider_url
    shopper_events_drain()
    assert payment.events.filter(type=EventType.SHOPPER_REDIRECTED).count() == 1


def test_pay_falls_back_to_the_database_and_refills_the_kv(client):
    payment = PaymentFactory()
    cache.clear()

    response = client.get(f"/integration/pay?id={payment.public_id}")

    assert response["Location"] == payment.provider_url
    assert kv_get(payment.public_id)["provider_url"] == payment.provider_url


def test_pay_with_an_unknown_id_is_a_404_page(client):
    response = client.get("/integration/pay?id=pay_doesnotexist")

    assert response.status_code == 404
    assert b"Payment not found" in response.content


@pytest.mark.parametrize(
    ("status", "http_status"),
    [(PaymentStatus.SUCCEEDED, 200), (PaymentStatus.FAILED, 200), (PaymentStatus.EXPIRED, 410)],
)
def test_pay_for_a_final_payment_shows_a_status_page_instead(client, status, http_status):
    payment = PaymentFactory(status=status)

    response = client.get(f"/integration/pay?id={payment.public_id}")

    assert response.status_code == http_status
    assert status.encode() in response.content
    assert payment.provider_url.encode() not in response.content


@pytest.mark.parametrize(("path", "field"), [("success", "success_url"), ("error", "error_url")])
def test_returns_go_to_the_stored_merchant_url_and_leave_the_status_alone(client, path, field):
    payment = PaymentFactory(status=PaymentStatus.PENDING)

    response = client.get(f"/integration/{path}?id={payment.public_id}")

    assert response.status_code == 302
    assert response["Location"] == getattr(payment, field)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING
    shopper_events_drain()
    assert payment.events.filter(type=f"shopper.returned_{path}").count() == 1


def test_returns_ignore_any_url_in_the_query_string(client):
    payment = PaymentFactory()

    response = client.get(
        f"/integration/success?id={payment.public_id}&url=https://evil.example&next=https://evil.example"
    )

    assert response["Location"] == payment.success_url


def test_return_with_unknown_id_is_404_not_a_redirect(client):
    response = client.get("/integration/success?id=nope&successUrl=https://evil.example")

    assert response.status_code == 404
    assert "Location" not in response


def test_pay_after_the_status_changed_shows_the_status_not_the_stale_kv_entry(
    client, django_capture_on_commit_callbacks
):
    payment = PaymentFactory(status=PaymentStatus.PENDING)
    kv_store(payment)

    with django_capture_on_commit_callbacks(execute=True):
        payment_transition(payment=payment, target=PaymentStatus.SUCCEEDED)

    response = client.get(f"/integration/pay?id={payment.public_id}")
    assert response.status_code == 200
    assert b"succeeded" in response.content


def test_an_unknown_id_costs_one_query(client, django_assert_num_queries):
    # the KV miss falls back to the database once (kv_get), not once more in the view
    with django_assert_num_queries(1):
        response = client.get("/integration/pay?id=pay_doesnotexist")

    assert response.status_code == 404


def test_a_kv_miss_reads_only_what_the_redirect_needs(client, django_assert_num_queries):
    payment = PaymentFactory()
    cache.clear()

    with django_assert_num_queries(1) as captured:
        response = client.get(f"/integration/pay?id={payment.public_id}")

    assert response["Location"] == payment.provider_url
    sql = captured.captured_queries[0]["sql"]
    assert "ORDER BY" not in sql  # the id is unique
    assert "customer_email" not in sql  # the entry's columns, not the whole row
