"""Who may call the merchant API: tokens, disabled merchants, throttling, unknown routes."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.factories import make_token
from tests.payments.api.test_init_payment import BODY, post

pytestmark = pytest.mark.django_db


def test_no_token_is_401(db):
    response = post(APIClient(), BODY)

    assert response.status_code == 401
    assert response.json()["code"] == "authentication_required"
    assert response["WWW-Authenticate"].startswith("Token")


def test_unknown_token_is_401(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token apg_live_" + "x" * 43)

    response = post(client, BODY)

    assert (response.status_code, response.json()["code"]) == (401, "invalid_token")


def test_revoked_token_is_401(merchant):
    from payments.merchants import api_token_revoke

    token, key = make_token(merchant=merchant)
    api_token_revoke(token=token)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")

    response = post(client, BODY)

    assert (response.status_code, response.json()["code"]) == (401, "revoked_token")


def test_disabled_merchant_is_403(merchant, api):
    merchant.is_active = False
    merchant.save()

    response = post(api, BODY)

    assert (response.status_code, response.json()["code"]) == (403, "merchant_disabled")


def test_unknown_api_route_is_json_404(api):
    response = api.get("/api/v1/nothing-here")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_throttling_answers_429_with_retry_after(api, settings):
    from rest_framework.settings import api_settings

    from payments.api.authentication import ApiTokenRateThrottle

    rates = {**api_settings.DEFAULT_THROTTLE_RATES, "api_token": "3/min"}
    original = ApiTokenRateThrottle.THROTTLE_RATES
    ApiTokenRateThrottle.THROTTLE_RATES = rates
    try:
        codes = [api.get("/api/v1/payments").status_code for _ in range(4)]
        last = api.get("/api/v1/payments")
    finally:
        ApiTokenRateThrottle.THROTTLE_RATES = original

    assert codes == [200, 200, 200, 429]
    assert last.json()["code"] == "rate_limited"
    assert int(last["Retry-After"]) > 0


def test_the_throttle_window_is_shared_in_redis_and_refusals_do_not_count(api, merchant):
    from rest_framework.settings import api_settings

    from payments import kv
    from payments.api.authentication import ApiTokenRateThrottle

    # given a budget of 2 a minute
    rates = {**api_settings.DEFAULT_THROTTLE_RATES, "api_token": "2/min"}
    original = ApiTokenRateThrottle.THROTTLE_RATES
    ApiTokenRateThrottle.THROTTLE_RATES = rates
    try:
        # when the token asks 4 times
        codes = [api.get("/api/v1/payments").status_code for _ in range(4)]
    finally:
        ApiTokenRateThrottle.THROTTLE_RATES = original

    # then two answers, two refusals, and the window (one Redis set for every web
    # process) holds only the two requests that were let through
    assert codes == [200, 200, 429, 429]
    token = merchant.tokens.get()
    key = kv.kv_namespaced(f"throttle_api_token_{token.pk}")
    assert kv.kv_run(lambda client: client.zcard(key)) == 2
