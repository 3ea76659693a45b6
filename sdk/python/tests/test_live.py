"""The SDK against a live gateway with the sandbox provider (GATEWAY_URL, APAYGATE_TOKEN,
POSTBACK_SECRET; tests/sdk starts one). Skipped without them."""

from __future__ import annotations

import asyncio
import os
import re
import threading
import time
import uuid
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urljoin

import httpx
import pytest

from apaygate import (
    APayGateError,
    AsyncClient,
    Client,
    PaymentStatus,
    PostbackEvent,
    PostbackVerificationError,
    verify_postback,
)

GATEWAY_URL = os.environ.get("GATEWAY_URL", "")
TOKEN = os.environ.get("APAYGATE_TOKEN", "")
SECRET = os.environ.get("POSTBACK_SECRET", "")

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(
        not (GATEWAY_URL and TOKEN and SECRET),
        reason="GATEWAY_URL, APAYGATE_TOKEN, POSTBACK_SECRET not set",
    ),
]
RUN = f"py-{uuid.uuid4().hex[:8]}"
URLS = {"success_url": "https://shop.example/ok", "error_url": "https://shop.example/err"}


class Shop:
    """The merchant's postback endpoint: verifies with the SDK, records, answers."""

    def __init__(self) -> None:
        self.received: list = []
        shop = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    event = verify_postback(body=body, headers=dict(self.headers), secret=SECRET)
                except PostbackVerificationError as exc:
                    shop.received.append(exc)
                    self.send_response(400)
                else:
                    shop.received.append(event)
                    self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/postback"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, predicate, what: str, timeout: float = 40.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for item in list(self.received):
                if isinstance(item, Exception):
                    raise AssertionError(f"postback refused: {item}")
                if predicate(item):
                    return item
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}; received {self.received}")


@pytest.fixture(scope="module")
def shop():
    server = Shop()
    yield server
    server.server.shutdown()


@pytest.fixture(scope="module")
def client():
    with Client(token=TOKEN, base_url=GATEWAY_URL, retry_base_delay=0.05) as c:
        yield c


def pay_in_sandbox(wrapper_url: str, outcome: str) -> str:
    """Press a button on the sandbox's hosted page, as the shopper would."""
    with httpx.Client(follow_redirects=False) as browser:
        redirect = browser.get(wrapper_url)
        assert redirect.status_code == 302
        pay_url = urljoin(wrapper_url, redirect.headers["Location"])
        assert "/sandbox/pay/" in pay_url
        page = browser.get(pay_url)
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert csrf, "the sandbox page has a CSRF token"
        # The CSRF cookie is marked Secure; over the test server's http:// send it by hand.
        cookie = "; ".join(part.split(";", 1)[0] for part in page.headers.get_list("set-cookie"))
        browser.cookies.clear()
        done = browser.post(
            pay_url,
            data={"csrfmiddlewaretoken": csrf.group(1), "outcome": outcome},
            headers={"Cookie": cookie},
        )
        assert done.status_code == 302, done.text[:500]
        return done.headers["Location"]


def test_a_paid_payment_sends_a_postback_the_sdk_verifies_and_reads_succeeded(client, shop):
    # given a payment made through the SDK
    answer = client.init_payment(
        id=f"{RUN}-paid",
        customer_email="shopper@example.com",
        amount="25.00",
        currency="USD",
        postback_url=shop.url,
        **URLS,
    )
    assert answer["status"] == "success"
    # when the shopper pays in the sandbox
    assert "/integration/success" in pay_in_sandbox(answer["url"], "success")
    # then a verified, typed postback arrives and the status reads back
    event = shop.wait_for(lambda e: e.payment_id == answer["id"], "the postback")
    assert event.event is PostbackEvent.PAYMENT_SUCCEEDED
    assert event.status is PaymentStatus.SUCCEEDED
    assert (event.id, event.amount, event.currency) == (f"{RUN}-paid", "25.00", "USD")
    payment = client.get_payment(answer["id"])
    assert payment["status"] == PaymentStatus.SUCCEEDED
    assert Decimal(payment["amount"]) == Decimal("25.00")

    # and a resend delivers the same webhook-id again
    resent = client.resend_postback(answer["id"])
    assert resent["webhookId"] == event.webhook_id
    again = shop.wait_for(
        lambda e: e.payment_id == answer["id"] and e is not event, "the resent postback"
    )
    assert again.webhook_id == event.webhook_id


def test_a_declined_payment_sends_payment_failed(client, shop):
    answer = client.init_payment(
        id=f"{RUN}-declined", amount="1500", currency="JPY", postback_url=shop.url, **URLS
    )
    pay_in_sandbox(answer["url"], "failure")
    event = shop.wait_for(lambda e: e.payment_id == answer["id"], "the failed postback")
    assert event.event is PostbackEvent.PAYMENT_FAILED
    assert event.amount == "1500"
    assert client.get_payment(answer["id"])["status"] == PaymentStatus.FAILED


def test_send_test_postback_delivers_a_postback_test_the_sdk_verifies(client, shop):
    answer = client.send_test_postback(url=shop.url)
    assert answer["delivered"] is True, answer
    event = shop.wait_for(lambda e: e.webhook_id == answer["webhookId"], "the test postback")
    assert event.event is PostbackEvent.POSTBACK_TEST


def test_list_payments_walks_every_page_and_filters_by_status(client):
    made = [
        client.init_payment(id=f"{RUN}-list-{i}", amount="2.00", currency="USD", **URLS)["id"]
        for i in range(3)
    ]
    listed = list(client.list_payments(page_size=2))
    ids = [p["paymentId"] for p in listed]
    assert set(made) <= set(ids)
    assert len(ids) == len(set(ids))
    assert len(ids) >= 5  # with the paid and declined ones
    pending = list(client.list_payments(status=PaymentStatus.PENDING, page_size=1))
    assert {p["status"] for p in pending} == {"pending"}
    assert set(made) <= {p["paymentId"] for p in pending}


def test_errors_map_to_apaygate_error(client):
    with pytest.raises(APayGateError) as invalid:
        client.init_payment(id=f"{RUN}-bad", amount="1.001", currency="USD", **URLS)
    assert (invalid.value.status, invalid.value.code) == (400, "validation_error")
    assert invalid.value.errors.get("amount")
    with pytest.raises(APayGateError) as missing:
        client.get_payment("pay_does_not_exist")
    assert (missing.value.status, missing.value.code) == (404, "not_found")
    stranger = Client(token="not-a-real-token", base_url=GATEWAY_URL)
    with pytest.raises(APayGateError) as unauthorised:
        stranger.get_payment("pay_does_not_exist")
    stranger.close()
    assert unauthorised.value.status == 401


def test_async_client_creates_reads_and_lists():
    async def run():
        async with AsyncClient(token=TOKEN, base_url=GATEWAY_URL) as client:
            answer = await client.init_payment(
                id=f"{RUN}-async", amount="3.50", currency="EUR", **URLS
            )
            payment = await client.get_payment(answer["id"])
            listed = [p["paymentId"] async for p in client.list_payments(id=f"{RUN}-async")]
            return answer, payment, listed

    answer, payment, listed = asyncio.run(run())
    assert payment["status"] == PaymentStatus.PENDING
    assert payment["amount"] == "3.50"
    assert listed == [answer["id"]]


def test_the_payment_answer_carries_the_currencys_minor_units(client):
    answer = client.init_payment(id=f"{RUN}-minor", amount="25.00", currency="USD", **URLS)
    assert client.get_payment(answer["id"])["amount"] == "25.00"


def test_a_declined_order_is_paid_by_a_new_attempt_under_the_same_id(client):
    # The flow docs/public/idempotency.md shows: the magic e-mails of test mode decide the
    # outcome from the API alone (docs/public/test-mode.md).
    order = f"{RUN}-retry"
    first = client.init_payment(
        id=order,
        amount="25.00",
        currency="USD",
        customer_email="declined@sandbox.apaygate.test",
        **URLS,
    )
    assert client.get_payment(first["id"])["status"] == PaymentStatus.FAILED

    retry = client.init_payment(
        id=order,
        amount="25.00",
        currency="USD",
        customer_email="paid@sandbox.apaygate.test",
        **URLS,
    )

    assert retry["id"] != first["id"]
    paid = client.get_payment(retry["id"])
    assert (paid["status"], paid["attempt"], paid["retryOf"]) == ("succeeded", 2, first["id"])
    attempts = [p["paymentId"] for p in client.list_payments(id=order)]
    assert attempts == [retry["id"], first["id"]]


def test_a_provider_outage_is_a_provider_unavailable_error_with_a_request_id(client):
    from apaygate import ProviderUnavailableError

    with pytest.raises(ProviderUnavailableError) as caught:
        client.init_payment(
            id=f"{RUN}-outage",
            amount="25.00",
            currency="USD",
            customer_email="provider-unavailable@sandbox.apaygate.test",
            **URLS,
        )
    assert caught.value.code == "provider_unavailable"
    assert caught.value.request_id
