"""The production web application: an event loop in front, Django behind two thread pools.

    gunicorn apaygate.asgi:application -c apaygate/gunicorn_conf.py   (uvicorn workers)

Per worker process:
- the event loop (uvicorn) parses HTTP and answers `GET /integration/pay` on a KV hit itself
  (payments/shopper/fast_lane.py): no thread, no database; on a KV miss it runs the one
  SELECT in the general pool and answers too, without Django's request cycle;
- every other request runs Django's WSGI handler in a thread pool, and there are two pools,
  so they are bulkheads: `POST /api/v1/init-payment`, which waits on a provider, runs in
  the `provider` pool (WEB_PROVIDER_THREADS); shopper pages, provider postbacks, the admin
  and the rest run in the `general` pool (WEB_THREADS). A provider that hangs fills its
  own pool (and its breaker opens, providers/breaker.py); shoppers and postbacks never
  queue behind it.

Past capacity the pools shed instead of queueing without bound (apaygate/pools.py): each
has a bounded queue and a queue-time budget, a request past either is answered 503 with
Retry-After at once, and one whose client disconnected while it waited is never run.

Why pools of reused threads rather than Django's own ASGI handler: under Django's ASGI
handler each sync view runs in a fresh thread, so a persistent database connection cannot
outlive its request and every request pays a new PostgreSQL connection (measured in
bench/: postback intake at a few per cent of its WSGI speed). Reused threads borrow
connections from the process's pool (DATABASE_POOL_*) and give them back after each request.

The adapter reads the request body into memory (refusing more than MAX_BODY_BYTES) and
sends Django's response when it is complete: every response here is small. The one
long-lived answer, `GET /api/v1/postbacks/stream` (`apaygate listen`), is authorized by
Django in the general pool and then streamed by this loop
(payments/api/postback_stream.py), so a listener never holds a pool thread.
"""

from __future__ import annotations

import io
import os
import sys
from functools import partial

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "apaygate.settings")

from apaygate.machine_routes import routed_wsgi_application

# Django's WSGI handler; the merchant API and provider postbacks get a shorter middleware
# stack (apaygate/machine_routes.py).
django_wsgi = routed_wsgi_application()

from apaygate.pools import (  # noqa: E402
    CLIENT_GONE,
    GENERAL_POOL,
    PROVIDER_POOL,
    Shed,
    shed_answer,
    web_pools,
)
from payments.api import postback_stream  # noqa: E402
from payments.shopper.fast_lane import PATH as FAST_LANE_PATH  # noqa: E402
from payments.shopper.fast_lane import pay_fast  # noqa: E402

# Routes that wait on a provider: they get a pool of their own.
PROVIDER_BOUND_PATHS = frozenset({"/api/v1/init-payment"})
MAX_BODY_BYTES = 8 * 1024 * 1024

pools = web_pools()


def pool_for(path: str) -> str:
    return PROVIDER_POOL if path in PROVIDER_BOUND_PATHS else GENERAL_POOL


def wsgi_environ(scope: dict, body: bytes) -> dict:
    """The WSGI environ for an ASGI HTTP scope (PEP 3333)."""
    server = scope.get("server") or ("localhost", 80)
    environ = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": scope.get("root_path", "").encode().decode("latin-1"),
        "PATH_INFO": scope["path"].encode().decode("latin-1"),
        "QUERY_STRING": scope["query_string"].decode("latin-1"),
        "SERVER_PROTOCOL": f"HTTP/{scope['http_version']}",
        "SERVER_NAME": server[0],
        "SERVER_PORT": str(server[1]),
        "REMOTE_ADDR": (scope.get("client") or ("", 0))[0],
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin-1").upper().replace("-", "_")
        key = name if name in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{name}"
        value = raw_value.decode("latin-1")
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    return environ


def run_django(environ: dict) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Run one request through Django in this (pool) thread; return the whole response."""
    answer: dict = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info=None):
        answer["status"] = int(status.split(" ", 1)[0])
        answer["headers"] = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]

    result = django_wsgi(environ, start_response)
    try:
        content = b"".join(result)
    finally:
        result.close()  # request_finished: Django recycles old database connections here
    return answer["status"], answer["headers"], content


async def _read_body(receive) -> bytes | None:
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


class _EntryReader:
    """The fast lane's database read on a KV miss, in the general pool, as Django's view runs.

    The pool watches `receive` for a disconnect, which needs the request's body read first;
    the body is kept (`body`) for Django, should the lane leave the request to it after all.
    """

    def __init__(self, receive):
        self.receive = receive
        self.read = False  # whether the body was read (None: the client left, or too large)
        self.body: bytes | None = None

    async def __call__(self, call):
        self.body, self.read = await _read_body(self.receive), True
        if self.body is None:
            return None  # the client left (or sent a body too large for a GET)
        return await pools[GENERAL_POOL].run(call, receive=self.receive)


async def application(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    if scope["method"] == "GET" and scope["path"] == FAST_LANE_PATH:
        reader = _EntryReader(receive)
        if await pay_fast(scope, send, read_entry=reader):
            return
        body = reader.body if reader.read else await _read_body(receive)
    else:
        body = await _read_body(receive)
    if body is None:
        await send({"type": "http.response.start", "status": 413, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    environ = wsgi_environ(scope, body)
    streams = scope["path"] == postback_stream.PATH
    if streams:
        environ[postback_stream.ON_LOOP] = True
    answer = await pools[pool_for(scope["path"])].run(partial(run_django, environ), receive=receive)
    if isinstance(answer, Shed):
        if answer.reason == CLIENT_GONE:
            return  # nobody to answer; the request was not run
        answer = shed_answer(scope["path"])
    status, headers, content = answer
    if streams and (merchant_id := postback_stream.stream_grant(headers)) is not None:
        # Django authorized it in a pool thread; the stream itself runs on this loop.
        await postback_stream.postbacks_stream(
            scope=scope, receive=receive, send=send, merchant_id=merchant_id, headers=headers
        )
        return
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": content})
