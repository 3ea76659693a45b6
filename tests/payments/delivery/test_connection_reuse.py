"""Postback delivery keeps connections alive per checked address, and the check still runs."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from payments.delivery.send import postback_send
from tests.factories import MerchantFactory

pytestmark = pytest.mark.django_db


class KeepAliveReceiver(ThreadingHTTPServer):
    """An HTTP/1.1 merchant endpoint that counts the connections it accepted."""

    daemon_threads = True

    def __init__(self):
        self.connections: list[tuple[str, int]] = []

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = b'{"ok": true}'
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        super().__init__(("127.0.0.1", 0), Handler)

    def process_request(self, request, client_address):
        self.connections.append(client_address)
        super().process_request(request, client_address)


@pytest.fixture
def keepalive_receiver():
    server = KeepAliveReceiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _send(merchant, url):
    return postback_send(
        merchant=merchant, url=url, webhook_id="msg_1", payload={"event": "payment.succeeded"}
    )


def test_successive_postbacks_to_one_merchant_reuse_one_connection(settings, keepalive_receiver):
    settings.POSTBACK_ALLOW_PRIVATE = True
    merchant = MerchantFactory()
    url = f"http://127.0.0.1:{keepalive_receiver.server_address[1]}/postback"

    results = [_send(merchant, url) for _ in range(5)]

    assert [r.status_code for r in results] == [200] * 5
    assert len(keepalive_receiver.connections) == 1


def test_a_warm_pool_never_skips_the_address_check_after_rebinding(
    settings, keepalive_receiver, monkeypatch
):
    # given: a name that resolved to an address we allow, then rebinds to loopback
    settings.POSTBACK_ALLOW_PRIVATE = False
    merchant = MerchantFactory()
    port = keepalive_receiver.server_address[1]
    real_getaddrinfo = socket.getaddrinfo

    def resolve(host, *args, **kwargs):
        if host == "merchant.example":
            return real_getaddrinfo("127.0.0.1", *args, **kwargs)
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)

    result = _send(merchant, f"http://merchant.example:{port}/postback")

    assert result.status_code is None
    assert result.error.startswith("refused")
    assert keepalive_receiver.connections == []
