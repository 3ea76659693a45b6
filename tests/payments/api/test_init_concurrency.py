"""Twenty identical init-payment requests at once: one payment, one provider call.

Real concurrency on PostgreSQL: each thread has its own connection and its own
transactions (transactional_db), so the unique constraint is what decides.
"""

from __future__ import annotations

import threading
import time

import pytest
import responses
from django.db import connection
from rest_framework.test import APIClient

from payments.models import Payment
from tests.factories import MerchantFactory, make_token

BANSKY_URL = "https://bansky.example/v1/payments"
BODY = {
    "id": "race-1",
    "customerEmail": "alice@example.com",
    "amount": "42.00",
    "currency": "EUR",
    "successUrl": "https://shop.example/success",
    "errorUrl": "https://shop.example/error",
}


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_identical_requests_make_one_payment_and_one_provider_call():
    # given a provider that takes a while, so every request overlaps the first one
    merchant = MerchantFactory(provider="bansky")
    _token, key = make_token(merchant=merchant)
    provider_calls = []

    def slow_provider(request):
        provider_calls.append(request.body)
        time.sleep(0.5)
        return 200, {}, '{"url": "https://pay.bansky.example/p/1"}'

    start = threading.Barrier(20)
    answers: list[tuple[int, dict]] = []
    lock = threading.Lock()

    def shopper():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        start.wait()
        try:
            response = client.post("/api/v1/init-payment", BODY, format="json")
            with lock:
                answers.append((response.status_code, response.json()))
        finally:
            connection.close()

    # when
    with responses.RequestsMock() as mock:
        mock.add_callback(responses.POST, BANSKY_URL, callback=slow_provider)
        threads = [threading.Thread(target=shopper) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)

    # then
    assert len(answers) == 20
    assert len(provider_calls) == 1
    assert Payment.objects.count() == 1
    codes = sorted(code for code, _ in answers)
    assert codes == [200] * 19 + [201]
    assert len({body["id"] for _, body in answers}) == 1
