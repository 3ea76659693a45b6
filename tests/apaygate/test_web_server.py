"""The production web server (gunicorn + uvicorn workers, apaygate/gunicorn_conf.py), for real.

A real server subprocess on loopback, against the test database and Redis: a redirect's
event survives the web process being killed (SIGKILL) right after it answered, and a KV
miss still falls back to the database under ASGI.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.conf import settings

from payments.kv import kv_store
from payments.models import EventType, PaymentEvent
from payments.shopper.event_buffer import shopper_events_drain
from tests.factories import PaymentFactory
from tests.support.gateway import _database_url, free_port

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))


@pytest.fixture
def web_server(transactional_db, tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "apaygate.test_settings",
        "DATABASE_URL": _database_url(),
        "CACHE_KEY_PREFIX": settings.CACHES["default"]["KEY_PREFIX"],
        "WEB_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "1",
        "LOG_LEVEL": "WARNING",
    }
    log = (tmp_path / "web.log").open("w")
    process = subprocess.Popen(
        [GUNICORN, "apaygate.asgi:application", "-c", "apaygate/gunicorn_conf.py"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        try:
            requests.get(f"{base}/integration/pay?id=warmup", timeout=2)
            break
        except requests.RequestException:
            assert process.poll() is None, (tmp_path / "web.log").read_text()
            time.sleep(0.2)
    yield process, base
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def test_a_redirect_event_survives_the_web_process_killed_right_after_answering(web_server):
    process, base = web_server
    payment = PaymentFactory()
    kv_store(payment)

    response = requests.get(
        f"{base}/integration/pay?id={payment.public_id}", allow_redirects=False, timeout=5
    )
    os.killpg(process.pid, signal.SIGKILL)  # master and worker, no chance to flush anything
    process.wait(timeout=10)

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
