"""The API throttle reads the shared cache; with Redis down it limits per process, never 500s."""

from __future__ import annotations

import pytest
from django.core.cache import caches

from payments import kv

BODY = {
    "id": "order-1",
    "amount": "10.00",
    "currency": "USD",
    "successUrl": "https://shop.example/success",
    "errorUrl": "https://shop.example/error",
}


@pytest.fixture
def cache_down(settings, own_redis):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": own_redis.url,
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    settings.KV_REDIS_URL = own_redis.url
    own_redis.stop()
    kv.breaker.record_success()
    yield
    caches["default"].close()
    kv.breaker.record_success()
    kv._unforgotten.clear()


def test_init_payment_answers_when_the_throttle_cache_is_down(api, cache_down):
    response = api.post("/api/v1/init-payment", BODY, format="json")

    assert response.status_code == 201


def test_the_throttle_still_limits_in_process_when_the_cache_is_down(api, cache_down, settings):
    # given a tight rate (the throttle class reads its rates when first used)
    from payments.api.authentication import ApiTokenRateThrottle

    ApiTokenRateThrottle.local_cache.clear()
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"api_token": "2/min"},
    }
    original = ApiTokenRateThrottle.THROTTLE_RATES
    ApiTokenRateThrottle.THROTTLE_RATES = {"api_token": "2/min"}
    try:
        codes = [
            api.post("/api/v1/init-payment", {**BODY, "id": f"o-{n}"}, format="json").status_code
            for n in range(3)
        ]
    finally:
        ApiTokenRateThrottle.THROTTLE_RATES = original
        ApiTokenRateThrottle.local_cache.clear()

    assert codes == [201, 201, 429]
