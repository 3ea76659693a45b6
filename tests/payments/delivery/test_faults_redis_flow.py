"""Redis stopped in the middle of payment flows: no 5xx anywhere, every postback delivered.

The web side (API, redirects, sandbox pay page) runs in this process through Django's test
client; the worker and beat are real processes. Cache, KV and broker all share one private
redis-server that the test kills. Run alone with `-m fault`.
"""

from __future__ import annotations

import time

import pytest
from django.core.cache import caches
from rest_framework.test import APIClient

from payments import kv
from payments.models import DeliveryStatus, Payment, PaymentStatus, PostbackDelivery
from tests.factories import MerchantFactory, make_token
from tests.support.gateway import CeleryStack, celery_broker

pytestmark = [pytest.mark.fault, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _body(receiver, n: int) -> dict:
    return {
        "id": f"order-{n}",
        "amount": "10.00",
        "currency": "USD",
        "successUrl": "https://shop.example/success",
        "errorUrl": "https://shop.example/error",
        "postbackUrl": receiver.url,
    }


@pytest.fixture
def redis_everywhere(settings, own_redis_aof):
    """Cache (throttle), KV and Celery broker of this process on a private Redis with AOF."""
    own_redis = own_redis_aof
    settings.DEBUG = True  # the loopback receiver is plain http
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": own_redis.url,
            "KEY_PREFIX": "flow",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    settings.KV_REDIS_URL = own_redis.url
    kv.breaker.record_success()
    with celery_broker(own_redis.url):
        yield own_redis
    caches["default"].close()
    kv.breaker.record_success()
    kv._unforgotten.clear()


def _shop(api, client, receiver, n: int, answers: list[int]) -> Payment:
    """One shopper's trip: init-payment, /pay, the sandbox page's Pay button, /success."""
    response = api.post("/api/v1/init-payment", _body(receiver, n), format="json")
    answers.append(response.status_code)
    payment = Payment.objects.get(public_id=response.json()["id"])
    for step in (
        client.get(f"/integration/pay?id={payment.public_id}"),
        client.post(f"/sandbox/pay/{payment.provider_reference}", {"outcome": "success"}),
        client.get(f"/integration/success?id={payment.public_id}"),
    ):
        answers.append(step.status_code)
    return payment


def test_redis_killed_mid_flow_gives_no_5xx_and_delivers_every_postback(
    worker_settings, receiver, redis_everywhere, tmp_path, client
):
    # given a sandbox merchant, a worker and beat, all on one private Redis
    merchant = MerchantFactory(provider="sandbox")
    receiver.secrets = [merchant.postback_secret]
    api = APIClient()
    # A test key: the sandbox settles test payments only.
    key = make_token(merchant=merchant, mode="test")[1]
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    stack = CeleryStack(
        broker_url=redis_everywhere.url,
        tmp=tmp_path,
        extra_env={"KV_REDIS_URL": redis_everywhere.url, "CACHE_KEY_PREFIX": "flow"},
    )
    answers: list[int] = []
    try:
        stack.worker_and_beat()
        before = [_shop(api, client, receiver, n, answers) for n in range(3)]
        # a payment opened before the outage and settled during it: its KV entry stays
        opened = api.post("/api/v1/init-payment", _body(receiver, 99), format="json")
        late = Payment.objects.get(public_id=opened.json()["id"])
        assert client.get(f"/integration/pay?id={late.public_id}").status_code == 302

        # when Redis dies mid-flow and shoppers keep paying
        redis_everywhere.stop()
        during = [_shop(api, client, receiver, n, answers) for n in range(3, 6)]
        settle = client.post(f"/sandbox/pay/{late.provider_reference}", {"outcome": "success"})
        answers.append(settle.status_code)
        time.sleep(3)
        # (this process would drop the entry itself on its next Redis command; forget that,
        # as if the web process had died, so the workers' sweep has to do it)
        kv._unforgotten.clear()
        redis_everywhere.start()

        # then nothing answered 5xx, every postback goes out once, signed
        assert [code for code in answers if code >= 500] == []
        payments = [*before, *during, late]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            pending = PostbackDelivery.objects.filter(status=DeliveryStatus.PENDING).count()
            if pending == 0 and PostbackDelivery.objects.count() == len(payments):
                break
            time.sleep(0.25)
        statuses = set(PostbackDelivery.objects.values_list("status", flat=True))
        assert statuses == {DeliveryStatus.SUCCEEDED}, stack.logs()
        assert PostbackDelivery.objects.count() == len(payments)
        assert all(r.verified_with for r in receiver.requests)

        # and the payment settled during the outage no longer sends shoppers to its invoice
        kv.breaker.record_success()
        late.refresh_from_db()
        assert late.status == PaymentStatus.SUCCEEDED
        deadline = time.monotonic() + 5
        while kv.kv_cached(late.public_id) is not None and time.monotonic() < deadline:
            time.sleep(0.2)
        response = client.get(f"/integration/pay?id={late.public_id}")
        assert response.status_code == 200
        assert b"succeeded" in response.content
    finally:
        stack.stop_all()
