"""The worker's own reader of the outbox: due postbacks claimed straight from PostgreSQL.

PostgreSQL is the queue (as in Convoy); the broker is only a fast wake-up. Every worker
runs one poller thread (started on Celery's `worker_ready`, payments/delivery/tasks.py)
that every `POSTBACK_POLL_INTERVAL` seconds claims due deliveries with
`SELECT … FOR UPDATE SKIP LOCKED` (`deliveries_claim_due`) and attempts them in a small
thread pool, without the broker. So a broker outage delays postbacks by about one
interval and never stops them.

Two pollers, or a poller and a broker task, never send the same attempt twice: the claim
gives each row to one poller, and `delivery_attempt` claims the row again under its lock
and moves `next_attempt_at` past now before any network I/O, so a second caller finds it
not due and does nothing.

Each tick also drops the KV entries that a failed invalidation may have left behind
(`payments.kv.kv_sweep`), since this loop is the one that keeps running when Redis does
not.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import close_old_connections

from payments.delivery.attempts import delivery_attempt
from payments.delivery.outbox import deliveries_claim_due
from payments.kv import kv_sweep

logger = logging.getLogger(__name__)

BACKLOG_WAIT = 0.1
FULL = -1


class DeliveryPoller:
    """A daemon thread claiming due deliveries and attempting them, `concurrency` at once."""

    def __init__(self, *, interval: float, concurrency: int):
        self.interval = interval
        self.concurrency = concurrency
        self._stopping = threading.Event()
        self._in_flight = 0
        self._lock = threading.Lock()
        self._swept_at = 0.0
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="postback")
        self._thread = threading.Thread(target=self._run, name="postback-poller", daemon=True)

    def start(self) -> None:
        self._thread.start()
        logger.info("postback poller: every %ss, %s at once", self.interval, self.concurrency)

    def stop(self) -> None:
        self._stopping.set()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _run(self) -> None:
        wait = self.interval
        while not self._stopping.wait(wait):
            # A tick that filled every free slot probably left more due rows: come back
            # soon rather than a whole interval later (a backlog while the broker is away).
            wait = BACKLOG_WAIT if self.tick() == FULL else self.interval

    def tick(self) -> int:
        """Sweep stale KV entries, then claim as many due deliveries as there are free slots.

        Returns how many were claimed, or FULL when that filled every slot.
        """
        close_old_connections()
        try:
            now = time.monotonic()
            if now - self._swept_at >= self.interval:
                kv_sweep()
                self._swept_at = now
            with self._lock:
                free = self.concurrency - self._in_flight
            ids = deliveries_claim_due(limit=free) if free > 0 else []
        except Exception:  # the database is away: try again next tick, never die
            logger.exception("postback poller tick failed")
            close_old_connections()
            return 0
        for delivery_id in ids:
            with self._lock:
                self._in_flight += 1
            self._pool.submit(self._attempt, delivery_id)
        return FULL if free > 0 and len(ids) == free else len(ids)

    def _attempt(self, delivery_id: int) -> None:
        try:
            delivery_attempt(delivery_id=delivery_id)
        except Exception:  # the row's lease makes it due again; the next claim retries it
            logger.exception("postback %s: attempt failed", delivery_id)
        finally:
            close_old_connections()
            with self._lock:
                self._in_flight -= 1


_poller: DeliveryPoller | None = None


def poller_start() -> DeliveryPoller | None:
    """Start this process's poller (once) unless `POSTBACK_POLL` is off."""
    global _poller
    if not settings.POSTBACK_POLL or _poller is not None:
        return _poller
    _poller = DeliveryPoller(
        interval=settings.POSTBACK_POLL_INTERVAL, concurrency=settings.POSTBACK_POLL_CONCURRENCY
    )
    _poller.start()
    return _poller


def poller_stop() -> None:
    global _poller
    if _poller is not None:
        _poller.stop()
        _poller = None
