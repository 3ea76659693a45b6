"""Retry after a decline: the same merchant `id` makes a new attempt once the last closed unpaid."""

from __future__ import annotations

import pytest
import responses
from django.test import Client

from payments.models import Payment, PaymentStatus
from tests.factories import MerchantFactory
from tests.payments.api.test_init_payment import BANSKY_URL, BODY, client_for, post


@pytest.fixture
def bansky(db):
    return MerchantFactory(slug="aimbrella", provider="bansky")


def _settle(client: Client, payment_id: str, outcome: str) -> None:
    """Press a button on the sandbox page, as the shopper would."""
    reference = Payment.objects.get(public_id=payment_id).provider_reference
    assert client.post(f"/sandbox/pay/{reference}", {"outcome": outcome}).status_code == 302


@pytest.mark.parametrize("closed", ["failed", "expired"])
def test_the_same_id_after_a_decline_or_expiry_starts_a_new_linked_attempt(api, closed):
    first = post(api, BODY).json()["id"]
    if closed == "failed":
        _settle(Client(), first, "failure")
    else:
        Payment.objects.filter(public_id=first).update(status=PaymentStatus.EXPIRED)

    retry = post(api, BODY)

    assert retry.status_code == 201
    second = retry.json()["id"]
    assert second != first
    listed = api.get("/api/v1/payments", {"id": BODY["id"]}).json()["results"]
    assert [(p["paymentId"], p["attempt"], p["retryOf"], p["status"]) for p in listed] == [
        (second, 2, first, "pending"),
        (first, 1, None, closed),
    ]


def test_a_retry_may_change_the_fields_and_then_replays_like_any_payment(api):
    first = post(api, BODY).json()["id"]
    _settle(Client(), first, "failure")

    retry = post(api, {**BODY, "amount": "80.00"})
    replay = post(api, {**BODY, "amount": "80.00"})
    conflict = post(api, BODY)

    assert (retry.status_code, replay.status_code) == (201, 200)
    assert replay.json()["id"] == retry.json()["id"]
    assert conflict.status_code == 409
    assert conflict.json()["errors"] == {"amount": ["Differs from the first request with this id."]}
    assert "amount" in conflict.json()["message"]


def test_a_paid_order_is_never_paid_twice(api):
    first = post(api, BODY).json()["id"]
    _settle(Client(), first, "success")

    again = post(api, BODY)

    assert again.status_code == 200
    assert again.json()["id"] == first
    assert Payment.objects.count() == 1


def test_a_payment_in_progress_replays_as_before(api):
    first = post(api, BODY)
    second = post(api, BODY)

    assert (first.status_code, second.status_code) == (201, 200)
    assert Payment.objects.count() == 1


@responses.activate
def test_a_provider_error_is_retried_under_the_same_id(bansky):
    responses.post(BANSKY_URL, status=503)
    responses.post(BANSKY_URL, json={"url": "https://pay.bansky.example/p/2"})
    client = client_for(bansky)

    failed, retried = post(client, BODY), post(client, BODY)

    assert (failed.status_code, retried.status_code) == (503, 201)
    assert len(responses.calls) == 2
    attempts = list(Payment.objects.order_by("attempt").values_list("attempt", "status"))
    assert attempts == [(1, "provider_error"), (2, "pending")]


@responses.activate
def test_an_idempotency_key_replays_a_provider_error_instead_of_retrying(bansky):
    responses.post(BANSKY_URL, status=503)
    client = client_for(bansky)
    body = {k: v for k, v in BODY.items() if k != "id"}

    first = post(client, body, HTTP_IDEMPOTENCY_KEY="k-1")
    second = post(client, body, HTTP_IDEMPOTENCY_KEY="k-1")

    assert first.status_code == second.status_code == 503
    assert len(responses.calls) == 1


def test_a_conflict_names_every_differing_field(api):
    post(api, BODY)

    response = post(api, {**BODY, "amount": 101, "customerEmail": "bob@example.com"})

    assert response.status_code == 409
    assert sorted(response.json()["errors"]) == ["amount", "customerEmail"]


def test_a_closed_page_leads_back_to_the_merchant(api, django_capture_on_commit_callbacks):
    shopper = Client()
    first = post(api, BODY).json()["id"]
    with django_capture_on_commit_callbacks(execute=True):  # the KV entry is dropped on commit
        _settle(shopper, first, "failure")

    page = shopper.get(f"/integration/pay?id={first}")

    assert page.status_code == 200
    assert f'href="/integration/error?id={first}"' in page.content.decode()
    assert shopper.get(f"/integration/error?id={first}")["Location"] == BODY["errorUrl"]


def test_a_paid_closed_page_leads_to_the_success_url(api, django_capture_on_commit_callbacks):
    shopper = Client()
    first = post(api, BODY).json()["id"]
    with django_capture_on_commit_callbacks(execute=True):
        _settle(shopper, first, "success")

    page = shopper.get(f"/integration/pay?id={first}").content.decode()
    sandbox = shopper.get(
        f"/sandbox/pay/{Payment.objects.get(public_id=first).provider_reference}"
    ).content.decode()

    assert f'href="/integration/success?id={first}"' in page
    assert f'href="/integration/success?id={first}"' in sandbox
