"""Loopback stand-ins for the outside world, as tiny ASGI apps (run under uvicorn).

- `provider_app`: a Bansky-compatible provider answering every invoice after a fixed delay
  (`STUB_DELAY_MS`, default 200); `POST /control/hang` makes it hang (never answer),
  `POST /control/ok` brings it back.
- `merchant_app`: a merchant postback endpoint answering 200 after `STUB_DELAY_MS`
  (default 100), recording when each payment's postback arrived; `GET /stats` returns
  `{"count": n, "receipts": {paymentId: unix time}}`.
- `raw_app`: the baseline: one Redis GET and a 302, nothing else (REDIS_URL, key
  `raw:target`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time

import redis.asyncio

DELAY = float(os.environ.get("STUB_DELAY_MS", "200")) / 1000
state = {"hang": False, "receipts": {}}


async def _body(receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _answer(send, status: int, body: bytes, headers=()) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), *headers],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def provider_app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = await _body(receive)
    if scope["path"] == "/control/hang":
        state["hang"] = True
        return await _answer(send, 200, b"{}")
    if scope["path"] == "/control/ok":
        state["hang"] = False
        return await _answer(send, 200, b"{}")
    if state["hang"]:
        await asyncio.sleep(3600)
    await asyncio.sleep(DELAY)
    payment_id = json.loads(body or b"{}").get("id", "x")
    answer = {"url": f"https://pay.bansky.example/p/{payment_id}", "reference": f"r-{payment_id}"}
    await _answer(send, 200, json.dumps(answer).encode())


async def merchant_app(scope, receive, send):
    if scope["type"] != "http":
        return
    if scope["method"] == "GET":
        receipts = state["receipts"]
        return await _answer(
            send, 200, json.dumps({"count": len(receipts), "receipts": receipts}).encode()
        )
    body = await _body(receive)
    with contextlib.suppress(ValueError, KeyError):
        state["receipts"][json.loads(body)["paymentId"]] = time.time()
    await asyncio.sleep(DELAY)
    await _answer(send, 200, b'{"ok":true}')


_redis: dict = {}


async def raw_app(scope, receive, send):
    if scope["type"] != "http":
        return
    client = _redis.get("client")
    if client is None:
        client = _redis["client"] = redis.asyncio.Redis.from_url(os.environ["REDIS_URL"])
    target = await client.get("raw:target")
    await send(
        {
            "type": "http.response.start",
            "status": 302,
            "headers": [
                (b"location", target or b"https://example.com/"),
                (b"content-length", b"0"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b""})


_sync_redis: dict = {}


def raw_wsgi(environ, start_response):
    """The same baseline for WSGI servers (BENCH_SERVER=sync|gthread)."""
    import redis as redis_sync

    client = _sync_redis.get("client")
    if client is None:
        client = _sync_redis["client"] = redis_sync.Redis.from_url(os.environ["REDIS_URL"])
    target = client.get("raw:target") or b"https://example.com/"
    start_response("302 Found", [("Location", target.decode()), ("Content-Length", "0")])
    return [b""]
