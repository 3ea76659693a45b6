"""The production web server (gunicorn + uvicorn workers, apaygate/gunicorn_conf.py), for real.

A real server subprocess on loopback, against the test database and Redis: a redirect's
event survives the web process being killed (SIGKILL) right after it answered, and a KV
miss still falls back to the database under ASGI (answered by the fast lane, or by Django
when the lane leaves it).
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading
from pathlib import Path

import pytest
import requests
from django.conf import settings

from payments.kv import kv_store
from payments.models import EventType, PaymentEvent, PaymentStatus
from payments.shopper.event_buffer import shopper_events_drain
from tests.factories import MerchantFactory, PaymentFactory, make_token
from tests.support.gateway import _database_url
from tests.support.processes import Process, free_port, http_answers, wait_until

GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
# Two workers importing Django on a loaded 2-core machine have taken over 40 s to answer
# their first request; a server that died is noticed at once all the same.
STARTUP_TIMEOUT = 120


@pytest.fixture
def web_server(transactional_db, tmp_path):
    process, base = _start_server(tmp_path, {})
    yield process, base
    _stop(process)


def _stop(process: Process) -> None:
    """Kill the server's whole process group (kill -9): no test here needs a graceful stop."""
    process.kill()


def _start_server(tmp_path, overrides: dict) -> tuple[Process, str]:
    """gunicorn with the production config on a free port, answering; (process, base URL)."""
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "apaygate.test_settings",
        "DATABASE_URL": _database_url(),
        "CACHE_KEY_PREFIX": settings.CACHES["default"]["KEY_PREFIX"],
        "WEB_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "1",
        "LOG_LEVEL": "WARNING",
        **overrides,
    }
    base = f"http://127.0.0.1:{port}"
    process = Process(
        [GUNICORN, "apaygate.asgi:application", "-c", "apaygate/gunicorn_conf.py"],
        env=env,
        log_path=tmp_path / "web.log",
    )
    process.start(
        ready=lambda: http_answers(f"{base}/integration/pay?id=warmup"), timeout=STARTUP_TIMEOUT
    )
    return process, base


def test_a_redirect_event_survives_the_web_process_killed_right_after_answering(web_server):
    process, base = web_server
    payment = PaymentFactory()
    kv_store(payment)

    response = requests.get(
        f"{base}/integration/pay?id={payment.public_id}", allow_redirects=False, timeout=5
    )
    process.kill()  # master and worker (kill -9), no chance to flush anything

    assert response.status_code == 302
    assert response.headers["Location"] == payment.provider_url
    shopper_events_drain()
    assert PaymentEvent.objects.filter(payment=payment, type=EventType.SHOPPER_REDIRECTED).exists()


def test_a_kv_miss_falls_back_to_the_database_under_asgi(web_server):
    _process, base = web_server
    payment = PaymentFactory()  # not in the KV

    response = requests.get(
        f"{base}/integration/pay?id={payment.public_id}", allow_redirects=False, timeout=5
    )

    assert response.status_code == 302
    assert response.headers["Location"] == payment.provider_url
    shopper_events_drain()
    assert PaymentEvent.objects.filter(payment=payment, type=EventType.SHOPPER_REDIRECTED).exists()


def test_a_kv_miss_the_fast_lane_reads_but_leaves_to_django_is_answered_under_asgi(web_server):
    # The lane read the request (its body) before its database read; Django answers with it.
    _process, base = web_server
    closed = PaymentFactory(status=PaymentStatus.SUCCEEDED)  # not in the KV

    unknown = requests.get(f"{base}/integration/pay?id=pay_nosuchpayment", timeout=5)
    settled = requests.get(
        f"{base}/integration/pay?id={closed.public_id}", allow_redirects=False, timeout=5
    )

    assert unknown.status_code == 404
    assert settled.status_code == 200
    assert "text/html" in settled.headers["Content-Type"]


def test_shoppers_are_answered_while_every_provider_thread_waits_on_a_hanging_provider(
    transactional_db, tmp_path
):
    # given: a provider that accepts connections and never answers, and a provider pool of 2
    hanging = socket.create_server(("127.0.0.1", 0), backlog=16)
    accepted: list[socket.socket] = []
    threading.Thread(
        target=lambda: [accepted.append(hanging.accept()[0]) for _ in range(4)], daemon=True
    ).start()
    process, base = _start_server(
        tmp_path,
        {
            "WEB_PROVIDER_THREADS": "2",
            "WEB_THREADS": "2",  # were the pools shared, 4 waiting calls would take both
            "WEB_PROVIDER_QUEUE_BUDGET": "60",  # the 2 queued calls wait (no shedding here)
            "BANSKY_API_URL": f"http://127.0.0.1:{hanging.getsockname()[1]}",
            "PROVIDER_READ_TIMEOUT": "30",
        },
    )
    try:
        merchant = MerchantFactory(provider="bansky")
        key = make_token(merchant=merchant)[1]
        body = {
            "customerEmail": "a@example.com",
            "amount": "10.00",
            "currency": "USD",
            "successUrl": "https://shop.example/s",
            "errorUrl": "https://shop.example/e",
        }

        def init_payment():
            with contextlib.suppress(requests.RequestException):  # the server is killed below
                requests.post(
                    f"{base}/api/v1/init-payment",
                    json=body,
                    headers={"Authorization": f"Token {key}"},
                    timeout=60,
                )

        waiting = [threading.Thread(target=init_payment, daemon=True) for _ in range(4)]
        for thread in waiting:
            thread.start()
        wait_until(lambda: len(accepted) >= 2, timeout=20)
        assert len(accepted) == 2  # both provider threads are stuck at the provider
        payment = PaymentFactory()  # not in the KV: the shopper needs a Django thread

        response = requests.get(
            f"{base}/integration/pay?id={payment.public_id}", allow_redirects=False, timeout=10
        )
        postback = requests.post(f"{base}/api/payment-verify/bansky", data=b"{}", timeout=10)

        assert response.status_code == 302
        assert postback.status_code == 400  # answered (unsigned), not queued behind the provider
        assert all(thread.is_alive() for thread in waiting)
    finally:
        _stop(process)
        for conn in accepted:
            conn.close()
        hanging.close()
