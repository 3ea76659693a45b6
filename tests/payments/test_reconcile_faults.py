"""A real web process killed (`kill -9`) while its provider call hangs leaves a `created`
payment; the reconciler closes it, and the merchant's retry of the same `id` is answered."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
import time

import pytest
import requests

from payments.models import Payment, PaymentStatus
from payments.reconcile import (
    INTERRUPTED_CODE,
    payment_created_is_abandoned,
    payments_reconcile_created,
)
from tests.apaygate.test_web_server import _start_server, _stop
from tests.factories import MerchantFactory, make_token

pytestmark = [pytest.mark.fault, pytest.mark.django_db(transaction=True)]


def _wait_for(condition, *, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_a_web_process_killed_mid_init_leaves_no_payment_created(tmp_path, settings):
    # given a provider that accepts the connection and never answers, behind a real server
    hanging = socket.create_server(("127.0.0.1", 0), backlog=4)
    accepted: list[socket.socket] = []
    threading.Thread(target=lambda: accepted.append(hanging.accept()[0]), daemon=True).start()
    overrides = {
        "BANSKY_API_URL": f"http://127.0.0.1:{hanging.getsockname()[1]}",
        "PROVIDER_READ_TIMEOUT": "30",
    }
    merchant = MerchantFactory(provider="bansky")
    key = make_token(merchant=merchant)[1]
    body = {
        "id": "order-killed",
        "customerEmail": "a@example.com",
        "amount": "10.00",
        "currency": "USD",
        "successUrl": "https://shop.example/s",
        "errorUrl": "https://shop.example/e",
    }

    def init_payment(base: str, *, answers: list) -> None:
        with contextlib.suppress(requests.RequestException):  # killed mid-call: no answer
            answers.append(
                requests.post(
                    f"{base}/api/v1/init-payment",
                    json=body,
                    headers={"Authorization": f"Token {key}"},
                    timeout=10,
                )
            )

    process, base = _start_server(tmp_path, overrides)
    try:
        lost: list = []
        threading.Thread(target=init_payment, args=(base,), kwargs={"answers": lost}).start()
        assert _wait_for(lambda: accepted, timeout=20)  # the provider call is on the wire

        # when the web process is killed there (master and worker, no goodbye)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        _stop(process)
    payment = Payment.objects.get(merchant_reference="order-killed")
    assert payment.status == PaymentStatus.CREATED and lost == []

    # then once no live request can still be making it, the merchant's retry of the same id
    # (on a new web process) is answered at once: the retry itself closes the payment, with
    # the answer a provider error gets, instead of a 409 until the reconciler's next run
    settings.PROVIDER_QUEUE_TIMEOUT = 0.1
    settings.PROVIDER_CONNECT_TIMEOUT = 0.2
    settings.PROVIDER_READ_TIMEOUT = 0.5
    settings.INIT_RECONCILE_MARGIN = 0.5
    assert _wait_for(lambda: payment_created_is_abandoned(payment), timeout=10)
    process, base = _start_server(
        tmp_path,
        {
            **overrides,
            "PROVIDER_QUEUE_TIMEOUT": "0.1",
            "PROVIDER_CONNECT_TIMEOUT": "0.2",
            "PROVIDER_READ_TIMEOUT": "0.5",
            "INIT_RECONCILE_MARGIN": "0.5",
        },
    )
    try:
        answers: list = []
        init_payment(base, answers=answers)
    finally:
        _stop(process)
        for conn in accepted:
            conn.close()
        hanging.close()
    (retry,) = answers
    assert retry.status_code == 502
    assert retry.json()["code"] == INTERRUPTED_CODE
    assert len(accepted) == 1  # the provider was not asked again
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PROVIDER_ERROR
    assert payment.provider_error_code == INTERRUPTED_CODE
    # and nothing is left `created` for the reconciler (beat's task; tests/payments/
    # test_reconcile.py closes one it finds)
    assert payments_reconcile_created() == 0
