"""`GET /api/v1/postbacks/stream`: a merchant's test-mode postbacks as server-sent events.

What `apaygate listen --forward-to URL` (both SDKs) reads. Two halves, like a front server's
X-Accel-Redirect:
- Django decides (`PostbackStreamApi`, in a pool thread for a few milliseconds): the token,
  the merchant, the throttle, the JSON errors, and the one rule of this route: **a live
  token is refused** (403 `test_token_required`); live postbacks are never streamed.
- The web's event loop streams (`postbacks_stream`, called by apaygate/asgi.py when the
  view granted the stream): no pool thread and no database connection is held while a
  developer's laptop listens for minutes. Each stream holds one blocking Redis read
  (payments/delivery/listen.py), at most `POSTBACK_STREAM_PER_MERCHANT` per merchant and
  `POSTBACK_STREAM_PER_PROCESS` per web process, and lasts at most
  `POSTBACK_STREAM_MAX_SECONDS`; then the server ends it and the client reconnects with
  `Last-Event-ID`, missing nothing the stream still keeps.

Events: `event: postback`, `id: <stream entry id>`, `data: {"event", "paymentId",
"headers", "body"}` where `body` is the exact text that was signed and `headers` the
Standard Webhooks headers as sent. A comment line every `KEEPALIVE_SECONDS` keeps proxies
from closing an idle stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
import weakref
from asyncio import AbstractEventLoop

import redis
import redis.asyncio
from django.conf import settings
from django.http import JsonResponse
from rest_framework.views import APIView

from payments import kv
from payments.api.schema import postback_stream_schema
from payments.delivery.listen import (
    ENTRY_ID,
    StreamedPostback,
    stream_last_id,
    stream_read,
    stream_slot_give,
    stream_slot_take,
)
from payments.errors import ApiError, error_body

logger = logging.getLogger(__name__)

PATH = "/api/v1/postbacks/stream"
# Set by apaygate/asgi.py in the request's environ: the event loop will stream the answer.
ON_LOOP = "apaygate.postback_stream"
# The view's answer to asgi.py: "stream this merchant's postbacks". Never sent to a client.
GRANT_HEADER = b"x-apaygate-stream-merchant"
KEEPALIVE_SECONDS = 15
# What an SSE client waits before reconnecting (the `retry:` field), in milliseconds.
RECONNECT_MS = 1000
UNAVAILABLE_RETRY_AFTER = 5


class PostbackStreamApi(APIView):
    """Grant a test token's merchant a stream of its test-mode postbacks."""

    def perform_content_negotiation(self, request, force=False):
        # An SSE client sends `Accept: text/event-stream`: the errors are still JSON.
        return super().perform_content_negotiation(request, force=True)

    @postback_stream_schema
    def get(self, request):
        if not request.user.is_test:
            raise ApiError(
                code="test_token_required",
                message=(
                    "Only test-mode postbacks are streamed: use a test token "
                    "(issue_token --test). Live postbacks go to your postbackUrl only."
                ),
                status_code=403,
            )
        if not kv.kv_enabled():
            return _unavailable(
                "This gateway runs without Redis (the embedded `make run` mode), so it cannot "
                "stream; there, give your local URL as postbackUrl directly."
            )
        if not request.META.get(ON_LOOP):
            return _unavailable(
                "Streams are served by the gateway's web server (scripts/serve.sh web), "
                "not by this one."
            )
        response = JsonResponse({"status": "success"})
        response[GRANT_HEADER.decode()] = str(request.user.merchant.pk)
        return response


def _unavailable(message: str) -> JsonResponse:
    response = JsonResponse(error_body(code="stream_unavailable", message=message), status=503)
    response["Retry-After"] = str(UNAVAILABLE_RETRY_AFTER)
    return response


def stream_grant(headers: list[tuple[bytes, bytes]]) -> int | None:
    """The merchant the view granted a stream to, read from Django's answer headers."""
    for name, value in headers:
        if name == GRANT_HEADER:
            return int(value)
    return None


# --- the stream, on the event loop ----------------------------------------------------

_open_streams = 0
_clients: weakref.WeakKeyDictionary[AbstractEventLoop, redis.asyncio.Redis] = (
    weakref.WeakKeyDictionary()
)


def _client() -> redis.asyncio.Redis:
    """This loop's client for blocking reads: the KV's Redis, a timeout past the block."""
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None:
        client = redis.asyncio.Redis.from_url(
            settings.KV_REDIS_URL,
            socket_timeout=KEEPALIVE_SECONDS + 5,
            socket_connect_timeout=kv.SOCKET_TIMEOUT,
            max_connections=settings.POSTBACK_STREAM_PER_PROCESS + 8,
        )
        _clients[loop] = client
    return client


def _event(postback: StreamedPostback) -> bytes:
    return f"event: postback\nid: {postback.entry_id}\ndata: {postback.sse_data()}\n\n".encode()


def _last_event_id(scope: dict) -> str | None:
    for name, value in scope["headers"]:
        if name == b"last-event-id":
            text = value.decode("latin-1").strip()
            return text if ENTRY_ID.match(text) else None
    return None


async def _json_answer(send, status: int, code: str, message: str, retry_after: int) -> None:
    body = json.dumps(error_body(code=code, message=message)).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", str(retry_after).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _client_gone(receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def postbacks_stream(
    *, scope: dict, receive, send, merchant_id: int, headers: list[tuple[bytes, bytes]]
) -> None:
    """Answer a granted stream request: server-sent events until the client leaves or the
    stream's time is up. `headers` are Django's (security headers, request id)."""
    global _open_streams
    if _open_streams >= settings.POSTBACK_STREAM_PER_PROCESS:
        await _json_answer(
            send, 503, "overloaded", "Too many streams on this server; reconnect shortly.", 2
        )
        return
    client = _client()
    listener = uuid.uuid4().hex
    try:
        if not kv.breaker.closed:
            raise kv.KVUnavailable("breaker open")
        taken = await stream_slot_take(
            client, merchant_id=merchant_id, listener=listener, now=time.time()
        )
        after = _last_event_id(scope) or await stream_last_id(client, merchant_id=merchant_id)
    except (redis.RedisError, kv.KVUnavailable) as exc:
        logger.warning("postback stream unavailable: %s", type(exc).__name__)
        await _json_answer(
            send, 503, "stream_unavailable", "Streaming is unavailable; reconnect shortly.", 5
        )
        return
    if not taken:
        await _json_answer(
            send,
            429,
            "stream_limit_reached",
            f"At most {settings.POSTBACK_STREAM_PER_MERCHANT} streams at once per merchant.",
            int(settings.POSTBACK_STREAM_MAX_SECONDS),
        )
        return
    _open_streams += 1
    try:
        await _relay(receive, send, client, merchant_id=merchant_id, after=after, headers=headers)
    finally:
        _open_streams -= 1
        with contextlib.suppress(redis.RedisError):  # else the slot's own expiry frees it
            await stream_slot_give(client, merchant_id=merchant_id, listener=listener)


async def _relay(receive, send, client, *, merchant_id: int, after: str, headers) -> None:
    kept = [
        (name, value)
        for name, value in headers
        if name not in (b"content-type", b"content-length", GRANT_HEADER)
    ]
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"text/event-stream; charset=utf-8"),
                (b"cache-control", b"no-store"),
                (b"x-accel-buffering", b"no"),  # proxies: pass each event on at once
                *kept,
            ],
        }
    )
    opening = f"retry: {RECONNECT_MS}\n: listening for test-mode postbacks\n\n".encode()
    await send({"type": "http.response.body", "body": opening, "more_body": True})
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settings.POSTBACK_STREAM_MAX_SECONDS
    gone = asyncio.ensure_future(_client_gone(receive))
    try:
        while (left := deadline - loop.time()) > 0:
            block_ms = max(int(min(KEEPALIVE_SECONDS, left) * 1000), 1)
            read = asyncio.ensure_future(
                stream_read(client, merchant_id=merchant_id, after=after, block_ms=block_ms)
            )
            done, _ = await asyncio.wait({read, gone}, return_when=asyncio.FIRST_COMPLETED)
            if gone in done:
                read.cancel()
                return
            try:
                postbacks = read.result()
            except redis.RedisError as exc:  # the client reconnects and resumes from `after`
                logger.warning("postback stream ended: %s", type(exc).__name__)
                break
            if postbacks:
                after = postbacks[-1].entry_id
            chunk = b"".join(_event(p) for p in postbacks) or b": keepalive\n\n"
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        # Time is up: the client reconnects (Last-Event-ID) and gets what came meanwhile.
        await send({"type": "http.response.body", "body": b""})
    finally:
        gone.cancel()
