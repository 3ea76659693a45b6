"""The production web server asked to stop (SIGTERM) finishes the requests it holds."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest
import requests

from payments.models import Payment, PaymentStatus
from tests.apaygate.test_web_server import _start_server, _stop
from tests.factories import MerchantFactory, make_token

pytestmark = [pytest.mark.fault, pytest.mark.django_db(transaction=True)]


def _refuses_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
    except OSError:
        return True
    return False


def test_sigterm_lets_an_init_payment_waiting_on_its_provider_finish(tmp_path, receiver):
    # given a provider that answers only when the test says so, behind a real server
    invoice = {"url": "https://pay.bansky.example/p/1", "reference": "bk-1"}

    def answer_when_released(_item):
        receiver.release.wait(30)
        return (200, {"Content-Type": "application/json"}, json.dumps(invoice).encode())

    receiver.script = [answer_when_released]
    process, base = _start_server(
        tmp_path, {"BANSKY_API_URL": receiver.url_for(""), "WEB_GRACEFUL_TIMEOUT": "20"}
    )
    port = int(base.rsplit(":", 1)[1])
    key = make_token(merchant=MerchantFactory(provider="bansky"))[1]
    answers: list = []

    def init_payment():
        answers.append(
            requests.post(
                f"{base}/api/v1/init-payment",
                json={
                    "id": "order-drain",
                    "customerEmail": "a@example.com",
                    "amount": "10.00",
                    "currency": "USD",
                    "successUrl": "https://shop.example/s",
                    "errorUrl": "https://shop.example/e",
                },
                headers={"Authorization": f"Token {key}"},
                timeout=30,
            )
        )

    caller = threading.Thread(target=init_payment)
    try:
        caller.start()
        assert receiver.arrived.wait(20)  # the request is at the provider

        # when the server is asked to stop, and has stopped taking new connections
        process.terminate()
        deadline = time.monotonic() + 10
        while not _refuses_connections(port) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _refuses_connections(port)
        receiver.release.set()  # only now does the provider answer

        # then the request it held is answered, and the server exits cleanly
        caller.join(30)
        assert process.wait(timeout=30) == 0
    finally:
        _stop(process)
    (answer,) = answers
    assert answer.status_code == 201
    assert Payment.objects.get(merchant_reference="order-drain").status == PaymentStatus.PENDING
