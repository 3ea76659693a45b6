"""API tokens remembered by the process for API_TOKEN_CACHE_SECONDS (payments/token_cache.py).

The bound is the promise: a token revoked or a merchant disabled by another process is
refused once it has passed; a change saved in this process is seen by the next call.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from payments import token_cache
from payments.models import ApiToken, Merchant
from tests.factories import make_token

pytestmark = pytest.mark.django_db

LIST = "/api/v1/payments"


@pytest.fixture(autouse=True)
def _empty_cache():
    token_cache.api_tokens_forget()
    yield
    token_cache.api_tokens_forget()


@pytest.fixture
def clock(monkeypatch):
    """The cache's clock, moved by hand."""
    now = [1000.0]
    monkeypatch.setattr(token_cache.time, "monotonic", lambda: now[0])
    return now


def client_with(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def token_selects(queries) -> int:
    table = ApiToken._meta.db_table
    return sum(
        1 for q in queries if q["sql"].lstrip().upper().startswith("SELECT") and table in q["sql"]
    )


def test_a_second_call_within_the_bound_does_not_look_the_token_up(merchant):
    _token, key = make_token(merchant=merchant)
    client = client_with(key)

    with CaptureQueriesContext(connection) as first:
        assert client.get(LIST).status_code == 200
    with CaptureQueriesContext(connection) as second:
        assert client.get(LIST).status_code == 200

    assert token_selects(first.captured_queries) == 1
    assert token_selects(second.captured_queries) == 0
    # Nor is last_used_at written again (a hint, written at most once a minute).
    assert len(second.captured_queries) == len(first.captured_queries) - 2


def test_revoked_elsewhere_is_refused_once_the_bound_has_passed(merchant, clock, settings):
    token, key = make_token(merchant=merchant)
    client = client_with(key)
    assert client.get(LIST).status_code == 200
    # Another process revokes it: no signal reaches this one.
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())

    clock[0] += settings.API_TOKEN_CACHE_SECONDS - 0.5
    assert client.get(LIST).status_code == 200  # within the documented bound
    clock[0] += 1.0
    response = client.get(LIST)

    assert (response.status_code, response.json()["code"]) == (401, "revoked_token")


def test_merchant_disabled_elsewhere_is_refused_once_the_bound_has_passed(
    merchant, clock, settings
):
    _token, key = make_token(merchant=merchant)
    client = client_with(key)
    assert client.get(LIST).status_code == 200
    Merchant.objects.filter(pk=merchant.pk).update(is_active=False)

    clock[0] += settings.API_TOKEN_CACHE_SECONDS + 0.5
    response = client.get(LIST)

    assert (response.status_code, response.json()["code"]) == (403, "merchant_disabled")


def test_a_revocation_in_this_process_is_seen_by_the_next_call(merchant):
    from payments.merchants import api_token_revoke

    token, key = make_token(merchant=merchant)
    client = client_with(key)
    assert client.get(LIST).status_code == 200

    api_token_revoke(token=ApiToken.objects.get(pk=token.pk))
    response = client.get(LIST)

    assert (response.status_code, response.json()["code"]) == (401, "revoked_token")


def test_a_merchant_disabled_in_this_process_is_seen_by_the_next_call(merchant):
    _token, key = make_token(merchant=merchant)
    client = client_with(key)
    assert client.get(LIST).status_code == 200

    merchant.is_active = False
    merchant.save()
    response = client.get(LIST)

    assert (response.status_code, response.json()["code"]) == (403, "merchant_disabled")


def test_zero_seconds_looks_every_call_up(merchant, settings):
    settings.API_TOKEN_CACHE_SECONDS = 0
    _token, key = make_token(merchant=merchant)
    client = client_with(key)
    client.get(LIST)

    with CaptureQueriesContext(connection) as again:
        assert client.get(LIST).status_code == 200

    assert token_selects(again.captured_queries) == 1


def test_unknown_keys_are_not_remembered(db):
    response = client_with("apg_live_" + "x" * 43).get(LIST)

    assert response.status_code == 401
    assert token_cache._entries == {}


def test_callers_get_their_own_instances(merchant):
    token, _key = make_token(merchant=merchant)
    token = ApiToken.objects.select_related("merchant").get(pk=token.pk)
    token_cache.api_token_remember(token.digest, token)

    first = token_cache.api_token_remembered(token.digest)
    first.merchant.name = "changed by a caller"
    first.last_used_at = None
    second = token_cache.api_token_remembered(token.digest)

    assert second.merchant.name == merchant.name
    assert second is not first and second.merchant is not first.merchant
