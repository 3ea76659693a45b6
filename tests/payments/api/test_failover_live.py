"""Failover for real: the production web server, two provider stubs and a Celery worker on loopback.

The merchant is routed `tele, bansky`; Tele's and Bansky's clients are pointed at two stub
processes (tests/support/provider_stub.py) through TELE_API_URL / BANSKY_API_URL.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from payments.merchants import merchant_create
from payments.models import EventType, Payment, PaymentStatus
from tests.apaygate.test_web_server import _start_server, _stop
from tests.factories import ExchangeRateFactory, make_token
from tests.payments.intake.test_postbacks import bansky_raw, tele_raw
from tests.support.gateway import free_port

ROOT = Path(__file__).resolve().parents[3]
UVICORN = str(Path(sys.executable).with_name("uvicorn"))
BREAKER_FAILURES = 2
BUDGET = 2.5  # PROVIDER_FAILOVER_BUDGET's default


class Stub:
    """One provider stub process; `mode("hang" | "fail" | "ok")` changes how it answers."""

    def __init__(self, tmp: Path, name: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        log = (tmp / f"{name}.log").open("w")
        self.process = subprocess.Popen(
            [UVICORN, "tests.support.provider_stub:app", "--host", "127.0.0.1",
             "--port", str(self.port), "--log-level", "warning"],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(requests.RequestException):
                requests.get(f"{self.url}/control/calls", timeout=1)
                return
            time.sleep(0.1)
        raise AssertionError(f"{name} stub did not start")

    def mode(self, mode: str) -> None:
        requests.post(f"{self.url}/control/{mode}", timeout=2).raise_for_status()

    def calls(self) -> int:
        return requests.get(f"{self.url}/control/calls", timeout=2).json()["calls"]

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


@pytest.fixture
def gateway(transactional_db, tmp_path, worker_settings):
    tele, bansky = Stub(tmp_path, "tele"), Stub(tmp_path, "bansky")
    process, base = _start_server(
        tmp_path,
        {
            "TELE_API_URL": tele.url,
            "BANSKY_API_URL": bansky.url,
            "PROVIDER_BREAKER_FAILURES": str(BREAKER_FAILURES),
            "PROVIDER_BREAKER_RESET": "120",
            # Its own namespace for breaker announcements, so no other test sees them.
            "CACHE_KEY_PREFIX": f"failover-{uuid.uuid4().hex[:8]}",
        },
    )
    ExchangeRateFactory(currency="USD", rate_to_tusd=Decimal(1))
    merchant = merchant_create(slug="routed", name="Routed", routes=["tele", "bansky"])
    key = make_token(merchant=merchant)[1]
    yield base, key, tele, bansky, merchant
    _stop(process)
    tele.stop()
    bansky.stop()


def init_payment(base: str, key: str, n: int, **extra) -> tuple[requests.Response, float]:
    body = {
        "id": f"order-{n}",
        "customerEmail": "alice@example.com",
        "amount": "10.00",
        "currency": "USD",
        "successUrl": "https://shop.example/s",
        "errorUrl": "https://shop.example/e",
        **extra,
    }
    started = time.monotonic()
    response = requests.post(
        f"{base}/api/v1/init-payment", json=body, headers={"Authorization": f"Token {key}"},
        timeout=30,
    )  # fmt: skip
    return response, time.monotonic() - started


def test_a_hanging_first_provider_fails_over_and_once_its_breaker_opens_tele_is_not_waited_for(
    gateway,
):
    base, key, tele, _bansky, _merchant = gateway
    tele.mode("hang")

    # Until the breaker opens, each payment waits out Tele's share of the budget first.
    for n in range(BREAKER_FAILURES):
        response, elapsed = init_payment(base, key, n)
        assert response.status_code == 201, response.text
        assert elapsed < BUDGET + 1  # the budget caps the wait: no 15 s read timeout
    tele_calls = tele.calls()
    answers = [init_payment(base, key, n) for n in range(BREAKER_FAILURES, BREAKER_FAILURES + 20)]

    assert all(r.status_code == 201 for r, _ in answers)
    assert tele.calls() == tele_calls  # breaker open: Tele is not called at all
    payments = Payment.objects.filter(public_id__in=[r.json()["id"] for r, _ in answers])
    assert {p.provider for p in payments} == {"bansky"}
    assert {p.status for p in payments} == {PaymentStatus.PENDING}
    # What the merchant would see as the failover's cost: reported, not asserted (bench/).
    print("failover with breaker open, max s:", round(max(e for _, e in answers), 3))


def test_a_first_provider_answering_5xx_fails_over_at_once(gateway):
    base, key, tele, bansky, _merchant = gateway
    tele.mode("fail")

    response, _elapsed = init_payment(base, key, 1)

    assert response.status_code == 201, response.text
    payment = Payment.objects.get(public_id=response.json()["id"])
    assert (payment.provider, payment.provider_url) == (
        "bansky",
        f"https://pay.stub.example/{payment.public_id}",
    )
    assert (tele.calls(), bansky.calls()) == (1, 1)
    tries = payment.events.filter(type=EventType.PROVIDER_ATTEMPT).order_by("occurred_at")
    assert [(e.provider, e.payload["outcome"]) for e in tries] == [
        ("tele", "refused"),
        ("bansky", "ok"),
    ]


def test_both_providers_down_is_a_503_within_the_budget_and_nothing_half_made(gateway):
    base, key, tele, bansky, _merchant = gateway
    tele.mode("hang")
    bansky.mode("hang")

    response, elapsed = init_payment(base, key, 1)

    assert response.status_code == 503
    assert response.json()["code"] == "provider_unavailable"
    assert elapsed < BUDGET + 0.5  # the whole answer within the one budget
    payment = Payment.objects.get()
    assert payment.status == PaymentStatus.PROVIDER_ERROR
    assert (payment.provider_url, payment.provider_reference) == ("", "")
    wrapper = requests.get(
        f"{base}/integration/pay?id={payment.public_id}", allow_redirects=False, timeout=5
    )
    assert wrapper.status_code != 302 or "stub.example" not in wrapper.headers.get("Location", "")


def test_a_failed_over_payment_redirects_takes_bansky_postbacks_and_tells_the_merchant(
    gateway, receiver, celery_stack
):
    base, key, tele, _bansky, merchant = gateway
    receiver.secrets = [merchant.postback_secret]
    celery_stack.worker()
    tele.mode("fail")
    response, _ = init_payment(base, key, 1, postbackUrl="https://shop.example/postback")
    assert response.status_code == 201, response.text
    payment = Payment.objects.get(public_id=response.json()["id"])
    # The API takes https postback URLs only (DEBUG off); the receiver is plain http.
    Payment.objects.filter(pk=payment.pk).update(postback_url=receiver.url)

    # The shopper's link leads to Bansky's invoice, the only one handed out.
    wrapper = requests.get(response.json()["url"].replace("https://gate.example", base),
                           allow_redirects=False, timeout=5)  # fmt: skip
    assert wrapper.status_code == 302
    assert wrapper.headers["Location"] == payment.provider_url
    # A Tele postback for it is not applied: Tele holds no invoice the shopper could pay.
    tele_postback = tele_raw(payment)
    answer = requests.post(f"{base}/api/payment-verify/tele", data=tele_postback.body,
                           headers=tele_postback.headers, timeout=5)  # fmt: skip
    assert answer.json()["code"] == "unknown_payment"
    # Bansky's, verified with Bansky's secret, is.
    raw = bansky_raw(payment)
    answer = requests.post(f"{base}/api/payment-verify/bansky", data=raw.body,
                           headers=raw.headers, timeout=5)  # fmt: skip

    assert answer.json()["code"] == "applied"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert receiver.wait_for(1, timeout=20), celery_stack.logs()
    delivered = receiver.requests[0]
    assert delivered.verified_with == [merchant.postback_secret]
    assert delivered.json["paymentId"] == payment.public_id
