"""Load shedding on the production web server (gunicorn + uvicorn workers), for real.

The provider holds every invoice until the test releases it, so the provider pool's threads
are known to be busy: what the server answers meanwhile was answered without waiting for
capacity (no timing is asserted). After the burst, one more init-payment goes through the
pool (first in, first out): anything refused or abandoned that still sat in the queue would
have started before it. Then the server is stopped, and the database must hold a payment
for every 201 and for nothing else, none of them half-made.
"""

from __future__ import annotations

import json
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from apaygate.pools import SHED_RETRY_AFTER_SECONDS
from payments.models import Payment, PaymentStatus
from tests.apaygate.test_web_server import _start_server, _stop
from tests.factories import MerchantFactory, make_token

WAIT = 60.0  # a bound on waiting for a condition, never a measured duration
METRICS_TOKEN = "shed-metrics-token"


class HeldProvider:
    """The Bansky provider's invoice endpoint, holding every answer until released."""

    def __init__(self, receiver) -> None:
        self.receiver = receiver
        self.release = threading.Event()
        receiver.script.extend([self._answer] * 500)

    def _answer(self, item):
        assert self.release.wait(WAIT)
        payment_id = item.json["id"]
        body = {"url": f"https://pay.bansky.example/p/{payment_id}", "reference": f"r-{payment_id}"}
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()

    def calls(self) -> int:
        return len(self.receiver.requests)

    def wait_for_calls(self, count: int) -> None:
        assert self.receiver.wait_for(count, WAIT), f"{self.calls()} provider calls, not {count}"


@pytest.fixture
def provider(receiver):
    held = HeldProvider(receiver)
    yield held
    held.release.set()


def _server(tmp_path, provider, **pool):
    return _start_server(
        tmp_path,
        {
            "BANSKY_API_URL": provider.receiver.url_for(""),
            "PROVIDER_READ_TIMEOUT": str(WAIT),
            "METRICS_TOKEN": METRICS_TOKEN,
            "PROMETHEUS_MULTIPROC_DIR": "",
            **{name: str(value) for name, value in pool.items()},
        },
    )


def _init_request(base: str, key: str, reference: str, *, timeout: float = WAIT):
    body = {
        "id": reference,
        "customerEmail": "a@example.com",
        "amount": "10.00",
        "currency": "USD",
        "successUrl": "https://shop.example/s",
        "errorUrl": "https://shop.example/e",
    }
    return requests.post(
        f"{base}/api/v1/init-payment",
        json=body,
        headers={"Authorization": f"Token {key}"},
        timeout=timeout,
    )


def _shed_counts(base: str) -> dict[str, float]:
    text = requests.get(
        f"{base}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10
    ).text
    found = re.findall(r'apaygate_web_shed_total\{pool="provider",reason="(\w+)"\} (\S+)', text)
    return {reason: float(value) for reason, value in found}


def _until(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.05)


@pytest.fixture
def api_key(transactional_db):
    return make_token(merchant=MerchantFactory(provider="bansky"))[1]


def test_a_burst_far_past_capacity_is_answered_503_at_once_and_nothing_runs_late(
    transactional_db, tmp_path, provider, api_key
):
    # given: 2 provider threads held at the provider, room for 3 more to wait 0.5 s
    process, base = _server(
        tmp_path,
        provider,
        WEB_PROVIDER_THREADS=2,
        WEB_PROVIDER_QUEUE_MAX=3,
        WEB_PROVIDER_QUEUE_BUDGET=0.5,
    )
    burst = [f"burst-{i}" for i in range(40)]
    answers: dict[str, requests.Response] = {}
    try:
        # when: 40 init-payments at once
        with ThreadPoolExecutor(max_workers=len(burst)) as clients:
            futures = {ref: clients.submit(_init_request, base, api_key, ref) for ref in burst}
            provider.wait_for_calls(2)
            _until(lambda: sum(f.done() for f in futures.values()) >= len(burst) - 2, "refusals")
            refused = {ref: f.result() for ref, f in futures.items() if f.done()}
            assert provider.calls() == 2  # every refusal came while both threads were held
            provider.release.set()
            answers = {ref: f.result() for ref, f in futures.items()}
        probe = _init_request(base, api_key, "after-the-burst")
        counts = _shed_counts(base)
    finally:
        provider.release.set()
        _stop(process)

    # then: the refused got a quick, retryable 503; the two held ones were served
    assert len(refused) == len(burst) - 2
    for response in refused.values():
        assert response.status_code == 503, response.text
        assert response.headers["Retry-After"] == str(SHED_RETRY_AFTER_SECONDS)
        assert response.json()["code"] == "overloaded"
    created = {ref for ref, response in answers.items() if response.status_code == 201}
    assert created == set(burst) - set(refused)
    assert probe.status_code == 201
    assert counts.get("queue_full", 0) >= 1
    assert counts.get("queue_timeout", 0) >= 1
    assert counts.get("queue_full", 0) + counts.get("queue_timeout", 0) == len(refused)
    # and nothing ran late or half: a payment for each 201, each with its invoice
    stored = Payment.objects.filter(merchant_reference__in=[*burst, "after-the-burst"])
    assert {p.merchant_reference for p in stored} == created | {"after-the-burst"}
    assert {p.status for p in stored} == {PaymentStatus.PENDING}
    assert all(p.provider_url for p in stored)
    assert provider.calls() == len(created) + 1


def test_a_request_whose_client_gave_up_while_it_waited_is_never_run(
    transactional_db, tmp_path, provider, api_key
):
    # given: both provider threads held at the provider, and a long queue budget
    process, base = _server(
        tmp_path,
        provider,
        WEB_PROVIDER_THREADS=2,
        WEB_PROVIDER_QUEUE_MAX=10,
        WEB_PROVIDER_QUEUE_BUDGET=WAIT,
    )
    gave_up = [f"gave-up-{i}" for i in range(3)]
    try:
        with ThreadPoolExecutor(max_workers=2) as clients:
            held = [clients.submit(_init_request, base, api_key, f"held-{i}") for i in range(2)]
            provider.wait_for_calls(2)

            # when: three more clients wait a second in the queue, then hang up
            for ref in gave_up:
                with pytest.raises(requests.Timeout):
                    _init_request(base, api_key, ref, timeout=1.0)
            _until(lambda: _shed_counts(base).get("client_gone", 0) == len(gave_up), "hang-ups")
            provider.release.set()
            assert [f.result().status_code for f in held] == [201, 201]
        probe = _init_request(base, api_key, "after-the-hang-ups")
    finally:
        provider.release.set()
        _stop(process)

    # then: none of the abandoned requests ran, before or after the threads came free
    assert probe.status_code == 201
    assert not Payment.objects.filter(merchant_reference__in=gave_up).exists()
    assert provider.calls() == 3
