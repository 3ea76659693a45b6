"""Item 10: a chunked request body is refused with 411, never read as empty.

The test client path sends `wsgi.input` without CONTENT_LENGTH and with
HTTP_TRANSFER_ENCODING=chunked, which is what a WSGI server hands Django for a chunked
request; the gunicorn test sends a real chunked request over loopback.
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from payments.models import Payment
from tests.hostile.conftest import assert_error_shape
from tests.support.gateway import free_port

pytestmark = pytest.mark.django_db

BIG = b'{"amount": "10", "pad": "' + b"x" * (2 * 1024 * 1024) + b'"}'


def chunked_request(client, path: str, body: bytes, **extra):
    """What a WSGI server hands Django for a chunked body: input, but no CONTENT_LENGTH."""
    return client.request(
        PATH_INFO=path,
        REQUEST_METHOD="POST",
        CONTENT_TYPE="application/json",
        HTTP_TRANSFER_ENCODING="chunked",
        **{"wsgi.input": io.BytesIO(body)},
        **extra,
    )


@pytest.mark.parametrize(
    "path", ["/api/v1/init-payment", "/api/v1/postbacks/test", "/api/payment-verify/tele"]
)
def test_chunked_body_is_refused_with_a_json_411(client, api_key, path):
    response = chunked_request(client, path, BIG, HTTP_AUTHORIZATION=f"Token {api_key}")

    data = assert_error_shape(response, 411)
    assert data["code"] == "length_required"
    assert not Payment.objects.exists()


def test_a_body_with_a_content_length_is_read_as_before(api):
    response = api.post("/api/v1/init-payment", {"amount": "10"}, format="json")

    assert response.status_code == 400
    assert "successUrl" in response.json()["errors"]


@pytest.mark.django_db(transaction=True)
def test_chunked_body_through_a_real_gunicorn_is_a_411():
    port = free_port()
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "apaygate.test_settings"}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-w", "1",
         "apaygate.wsgi:application"],
        cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        chunk = b'{"amount": "10"}'
        request = (
            b"POST /api/v1/init-payment HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
            b"Authorization: Token nope\r\nConnection: close\r\n\r\n"
            + f"{len(chunk):x}\r\n".encode()
            + chunk
            + b"\r\n0\r\n\r\n"
        )
        with sock:
            sock.settimeout(30)  # the worker may still be importing Django
            sock.sendall(request)
            answer = b""
            while data := sock.recv(65536):
                answer += data
        assert answer.startswith(b"HTTP/1.1 411"), answer[:300]
        assert b"length_required" in answer
    finally:
        server.terminate()
        server.wait(timeout=10)
