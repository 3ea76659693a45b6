"""The shopper class's entry (apaygate/asgi_shopper.py): only the shopper's paths get through."""

from __future__ import annotations

import asyncio
import json

import pytest

from apaygate import asgi_shopper


def _call(method: str, path: str) -> list[dict]:
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "method": method,
        "scheme": "http",
        "path": path,
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
    }
    asyncio.run(asgi_shopper.application(scope, receive, send))
    return sent


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/v1/init-payment"),
        ("POST", "/api/payment-verify/tele"),
        ("GET", "/portal/"),
        ("GET", "/docs/"),
        ("GET", "/"),
        ("GET", "/integration"),  # no trailing slash: not the routed prefix
    ],
)
def test_the_shopper_class_refuses_what_the_proxy_should_send_to_web(method, path):
    start, body = _call(method, path)

    assert start["status"] == 404
    assert json.loads(body["body"])["code"] == asgi_shopper.NOT_SERVED_CODE


@pytest.mark.parametrize(
    "path",
    [
        "/integration/pay",
        "/integration/status.json",
        "/INTEGRATION/pay",  # Caddy's path matcher ignores case: so does the class
        "/sandbox/pay/ref",
        "/static/apaygate/site.css",
        "/favicon.ico",
        "/healthz",
        "/readyz",
        "/metrics",
    ],
)
def test_the_shopper_class_serves_the_shoppers_paths_and_its_probes(path):
    assert asgi_shopper.shopper_path(path)


def test_merchant_and_provider_paths_are_not_the_shopper_class():
    assert not asgi_shopper.shopper_path("/api/v1/init-payment")
    assert not asgi_shopper.shopper_path("/api/payment-verify/bansky")
