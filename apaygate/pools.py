"""The web process's thread pools, and load shedding: bounded queues, a queue-time budget.

apaygate/asgi.py hands every request that Django serves to one of two pools of reused
threads (bulkheads: `provider` for init-payment, `general` for the rest). Past capacity a
pool does not queue without bound: work that would run after its client gave up is worse
than a quick refusal, since the client retries anyway and the late run still costs a
provider call and a payment row nobody reads.

So each pool has
- a bounded queue (`max_queue` requests waiting for a busy thread): one more is refused at
  once;
- a queue-time budget (`queue_budget` seconds): a request not started by then is refused;
- a watch on the client: one that disconnects (ASGI `http.disconnect`) while its request
  waits is dropped, never run.

A refused request gets `503` with `Retry-After` (the API's JSON `overloaded` error under
/api/, the branded page elsewhere), built here without Django's request cycle: it costs
the event loop microseconds, not a thread. Whether a request runs is decided once, by
`concurrent.futures.Future.cancel()`: it succeeds only while the request has not started,
and a cancelled request is never started, so a request answered 503 (or abandoned) can
never create a payment afterwards, and one that started always runs to its end.

Every refusal is counted in `apaygate_web_shed_total{pool, reason}`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from typing import Generic, TypeVar

from django.conf import settings

from foundation.instruments import WEB_SHED

__all__ = [
    "CLIENT_GONE",
    "QUEUE_FULL",
    "QUEUE_TIMEOUT",
    "SHED_RETRY_AFTER_SECONDS",
    "Pool",
    "Shed",
    "shed_answer",
    "web_pools",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Why a request was not run (the `reason` label of apaygate_web_shed_total).
QUEUE_FULL = "queue_full"
QUEUE_TIMEOUT = "queue_timeout"
CLIENT_GONE = "client_gone"

# What a refused client is told to wait: long enough for a burst to drain, short enough
# that a merchant's retry (same `id`, so it is idempotent) lands within seconds.
SHED_RETRY_AFTER_SECONDS = 2

# The pool names: asgi.py routes by path to one of them.
PROVIDER_POOL = "provider"
GENERAL_POOL = "general"


@dataclass(frozen=True)
class Shed:
    """A request the pool did not run, and why (QUEUE_FULL, QUEUE_TIMEOUT, CLIENT_GONE)."""

    reason: str


Receive = Callable[[], Awaitable[dict]]


async def _client_gone(receive: Receive) -> None:
    """Return when the client disconnects (after the body, receive() waits for just that)."""
    while (await receive())["type"] != "http.disconnect":
        pass


class Pool(Generic[T]):
    """A fixed pool of reused threads with a bounded queue and a queue-time budget."""

    def __init__(self, name: str, *, threads: int, max_queue: int, queue_budget: float):
        self.name = name
        self.threads = threads
        self.max_queue = max_queue
        self.queue_budget = queue_budget
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix=name)
        self._lock = threading.Lock()
        self.waiting = 0  # submitted, not started (nor cancelled)
        self.busy = 0  # running in a thread

    async def run(self, call: Callable[[], T], *, receive: Receive) -> T | Shed:
        """Run `call` in a pool thread and return its result, or Shed if it was not run.

        Called on the event loop. `receive` is the request's ASGI receive, its body read.
        """
        with self._lock:
            # At most `threads` running and `max_queue` waiting for one of them.
            full = self.waiting + self.busy >= self.threads + self.max_queue
            if not full:
                self.waiting += 1
        if full:
            return self._shed(QUEUE_FULL)
        future = self._executor.submit(self._start, call)
        result = asyncio.wrap_future(future)
        gone = asyncio.ensure_future(_client_gone(receive))
        try:
            done, _ = await asyncio.wait(
                {result, gone}, timeout=self.queue_budget, return_when=asyncio.FIRST_COMPLETED
            )
            if result in done:
                return result.result()
            # Past the budget, or the client left: refuse it, unless it has started.
            if self._withdraw(future):
                return self._shed(CLIENT_GONE if gone in done else QUEUE_TIMEOUT)
            return await result  # started meanwhile: it runs to its end, and is answered
        except asyncio.CancelledError:
            self._withdraw(future)  # the server gave up on the request: never run it later
            raise
        finally:
            gone.cancel()

    def _withdraw(self, future) -> bool:
        """Take a request out of the queue if it has not started; whether it was taken."""
        if not future.cancel():
            return False
        with self._lock:
            self.waiting -= 1
        return True

    def _start(self, call: Callable[[], T]) -> T:
        with self._lock:
            self.waiting -= 1
            self.busy += 1
        try:
            return call()
        finally:
            with self._lock:
                self.busy -= 1

    def _shed(self, reason: str) -> Shed:
        WEB_SHED.labels(pool=self.name, reason=reason).inc()
        return Shed(reason)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def web_pools() -> dict[str, Pool]:
    """The two pools of a web process, sized from settings (WEB_*; see .env.example)."""
    return {
        PROVIDER_POOL: Pool(
            PROVIDER_POOL,
            threads=settings.WEB_PROVIDER_THREADS,
            max_queue=settings.WEB_PROVIDER_QUEUE_MAX,
            queue_budget=settings.WEB_PROVIDER_QUEUE_BUDGET,
        ),
        GENERAL_POOL: Pool(
            GENERAL_POOL,
            threads=settings.WEB_THREADS,
            max_queue=settings.WEB_QUEUE_MAX,
            queue_budget=settings.WEB_QUEUE_BUDGET,
        ),
    }


# --- the answer to a refused request ------------------------------------------------------

Answer = tuple[int, list[tuple[bytes, bytes]], bytes]

_SHED_MESSAGE = (
    "The gateway is over capacity; this request was not processed and nothing was changed. "
    f"Retry after {SHED_RETRY_AFTER_SECONDS} seconds (the same id is safe to resend)."
)


def shed_answer(path: str) -> Answer:
    """503 with Retry-After for a refused request: JSON `overloaded` under /api/, else a page."""
    if path.startswith("/api/"):
        return _json_answer()
    return _page_answer(_area(path))


@lru_cache(maxsize=1)
def _json_answer() -> Answer:
    from payments.errors import error_body

    body = json.dumps(error_body(code="overloaded", message=_SHED_MESSAGE)).encode()
    return 503, _headers(b"application/json", body), body


def _area(path: str) -> str:
    from apaygate.pages import error_area

    return error_area(path)


@lru_cache(maxsize=8)
def _page_answer(area: str) -> Answer:
    """The branded 503 page for an area, rendered once per process (it has no request data)."""
    try:
        from apaygate.pages import unavailable_page

        body = unavailable_page(area).encode()
        content_type = b"text/html; charset=utf-8"
    except Exception:  # a template problem must not turn a refusal into a failure
        logger.exception("web: the 503 page could not be rendered; answering plain text")
        body, content_type = b"Temporarily unavailable; retry shortly.\n", b"text/plain"
    return 503, _headers(content_type, body), body


def _headers(content_type: bytes, body: bytes) -> list[tuple[bytes, bytes]]:
    return [
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", str(SHED_RETRY_AFTER_SECONDS).encode()),
        (b"cache-control", b"no-store"),
        (b"x-content-type-options", b"nosniff"),
    ]
