"""Fixtures for the docs tests: staff and non-staff logins, and real signed postbacks."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from payments.delivery.send import postback_send
from payments.delivery.wire import delivery_payload, webhook_id_generate
from payments.models import PaymentStatus
from tests.factories import MerchantFactory, PaymentFactory

DOCS_ROOT = Path(__file__).resolve().parents[2] / "docs"
SNIPPET_RE = re.compile(
    r"<!-- snippet: (?P<name>[\w-]+) -->\n```(?P<lang>\w+)\n(?P<code>.*?)\n```", re.S
)


def docs_snippets() -> dict[str, str]:
    """Return every marked code block of the docs, by name: what the reader copies is what runs."""
    found: dict[str, str] = {}
    for path in sorted(DOCS_ROOT.rglob("*.md")):
        for match in SNIPPET_RE.finditer(path.read_text(encoding="utf-8")):
            assert match["name"] not in found, f"snippet {match['name']} is defined twice"
            found[match["name"]] = match["code"]
    return found


@pytest.fixture
def staff_client(client, db):
    user = get_user_model().objects.create_user("ops", password="x", is_staff=True)
    client.force_login(user)
    return client


@pytest.fixture
def customer_client(client, db):
    user = get_user_model().objects.create_user("shopper", password="x", is_staff=False)
    client.force_login(user)
    return client


@dataclass(frozen=True)
class CapturedPostback:
    body: bytes
    headers: dict[str, str]


class _Capture(BaseHTTPRequestHandler):
    received: list[CapturedPostback]

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(length)
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.server.received.append(CapturedPostback(body=body, headers=headers))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def postback_receiver():
    """A merchant endpoint on 127.0.0.1 that records what the gateway POSTs to it."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Capture)
    server.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def send_real_postback(db, settings, postback_receiver):
    """Have the gateway's own delivery code sign and POST a postback; return what arrived."""
    settings.POSTBACK_ALLOW_PRIVATE = True  # the receiver listens on loopback
    url = f"http://127.0.0.1:{postback_receiver.server_port}/api/payment-verify"

    def send(*, merchant=None, reference: str = "order-1001") -> CapturedPostback:
        merchant = merchant or MerchantFactory(provider="sandbox")
        payment = PaymentFactory(
            merchant=merchant,
            merchant_reference=reference,
            postback_url=url,
            status=PaymentStatus.SUCCEEDED,
        )
        payload = delivery_payload(payment=payment, event="payment.succeeded")
        result = postback_send(
            merchant=merchant, url=url, webhook_id=webhook_id_generate(), payload=payload
        )
        assert result.status_code == 204, result.error
        captured = postback_receiver.received[-1]
        assert json.loads(captured.body)["paymentId"] == payment.public_id
        return captured

    return send
