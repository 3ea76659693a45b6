"""The worker's relay: due postbacks claimed in batches, sent concurrently, recorded in bulk.

PostgreSQL is the queue (as in Convoy); the broker is only a fast wake-up. Every worker
runs one relay (started on Celery's `worker_init`/`worker_ready`,
payments/delivery/tasks.py) made of three parts:
- a claimer thread that takes due deliveries with `SELECT … FOR UPDATE SKIP LOCKED`
  (`deliveries_claim_attempts`), both the ids the broker's tasks hand it (`want`) and,
  every `POSTBACK_POLL_INTERVAL` seconds, any due row (so a broker outage delays
  postbacks by about one interval and never stops them);
- `concurrency` sender threads that only do HTTP (no database connection each);
- a recorder thread that writes the finished attempts in one transaction per batch
  (`attempts_record`): whatever finished while the last write ran goes in the next.

Why this shape: a merchant answering in 100 ms holds a sender for 100 ms, so throughput
is senders / latency. Senders without database work can be many (PostgreSQL's
connections stay at two per worker for delivery), and claiming and recording cost a few
round trips per batch instead of about ten per postback.

Two relays, or a relay and a broker task, never send the same attempt twice: the claim
gives each row to one claimer and moves `next_attempt_at` past now before any network
I/O, so a second caller finds it not due and does nothing.

Each scan also drops the KV entries that a failed invalidation may have left behind
(`payments.kv.kv_sweep`), since this loop is the one that keeps running when Redis does
not.
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

from django.conf import settings
from django.db import close_old_connections, connection

from payments.delivery.attempts import (
    AttemptResult,
    attempts_record,
    deliveries_claim_attempts,
    deliveries_release,
    postback_send,
)
from payments.delivery.health import (
    endpoint_busy,
    endpoint_observe,
    endpoint_slot_give,
    endpoint_slot_take,
    endpoints_flush,
)
from payments.kv import kv_sweep
from payments.models import PostbackDelivery

logger = logging.getLogger(__name__)

# After a scan that filled every free sender, look again this soon (a backlog).
BACKLOG_WAIT = 0.02
FULL = -1
# Put on the wanted queue to wake the claimer (on stop); not a delivery id.
WAKE = 0
# Claimed deliveries per sender: one being sent, one waiting for the sender to be free.
# A waiting one may sit behind a whole attempt, so its claim's lease is this many long.
CLAIM_AHEAD = 2
# In a backlog, claim when there is room for at least concurrency / this many: each claim
# costs a transaction, so a few large ones beat many of one or two rows.
CLAIM_BATCHES = 4
# At most this many attempts go into one recording transaction.
RECORD_BATCH = 500
# How long the recorder gathers finished attempts into one transaction. Only the log waits:
# the merchant has its postback already.
RECORD_LINGER = 0.1
# How long the recorder waits for finished attempts before checking whether to stop.
RECORD_IDLE = 0.5
# On stop, how long to wait for attempts in flight so their results are written.
STOP_GRACE = 5.0


class DeliveryPoller:
    """Claim due deliveries, send them `concurrency` at once, record the answers in bulk."""

    def __init__(self, *, interval: float, concurrency: int):
        self.interval = interval
        self.concurrency = concurrency
        self._stopping = threading.Event()
        self._in_flight = 0
        self._lock = threading.Lock()
        self._swept_at = 0.0
        self._backlog = False  # the last scan found more due rows than room
        self._wanted: queue.SimpleQueue[int] = queue.SimpleQueue()  # ids, or WAKE
        self._held: list[int] = []  # wanted ids waiting for a free sender
        self._unsent: list[int] = []  # claimed, then cancelled by stop() before sending
        self._results: queue.SimpleQueue[tuple[int, AttemptResult]] = queue.SimpleQueue()
        self._senders = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="postback")
        self._thread = threading.Thread(target=self._run, name="postback-poller", daemon=True)
        # Started here, not in start(): tests (and a worker whose claimer is not running
        # yet) drive tick() directly and still need the answers written.
        self._recorder = threading.Thread(
            target=self._record_loop, name="postback-recorder", daemon=True
        )
        self._recorder.start()

    def start(self) -> None:
        self._thread.start()
        logger.info("postback poller: every %ss, %s at once", self.interval, self.concurrency)

    def stop(self) -> None:
        """Stop claiming; give the attempts in flight a moment so their answers are kept.

        Claimed deliveries still waiting for a sender are given back at once (due now, the
        claim's count undone); one still in flight after the grace is left to its lease.
        """
        self._stopping.set()
        self._wanted.put(WAKE)  # the claimer may be waiting for wanted ids
        self._senders.shutdown(wait=False, cancel_futures=True)
        if self._thread.is_alive():
            self._thread.join(STOP_GRACE)
        self._release_unsent()
        self._recorder.join(STOP_GRACE)

    def _release_unsent(self) -> None:
        """Give back the claimed deliveries that never reached a sender: due again now."""
        with self._lock:
            ids, self._unsent = self._unsent, []
        if not ids:
            return
        try:
            deliveries_release(ids=ids)
        except Exception:  # the database is away: their leases bring them back
            logger.exception("postback relay: releasing %s unsent deliveries failed", len(ids))

    def want(self, delivery_id: int) -> None:
        """Ask for one delivery to be attempted soon (a broker task's fast path)."""
        self._wanted.put(delivery_id)

    # --- claiming --------------------------------------------------------------------

    def _run(self) -> None:
        next_scan = 0.0
        try:
            while not self._stopping.is_set():
                self._wait_for_wanted(timeout=max(next_scan - time.monotonic(), 0.0))
                if self._stopping.is_set():
                    break
                self._claim_wanted()
                if time.monotonic() >= next_scan:
                    # A scan that filled every free sender probably left more due rows:
                    # come back soon rather than a whole interval later.
                    wait = BACKLOG_WAIT if self.tick() == FULL else self.interval
                    next_scan = time.monotonic() + wait
        finally:
            connection.close()

    def _wait_for_wanted(self, *, timeout: float) -> None:
        """Sleep until a task wants a delivery or `timeout` passes; gather what is wanted."""
        if self._held and self._free() <= 0:
            self._stopping.wait(min(timeout, BACKLOG_WAIT))  # wait for a free sender
        elif not self._held:
            try:
                self._keep(self._wanted.get(timeout=timeout))
            except queue.Empty:
                return
        while True:
            try:
                self._keep(self._wanted.get_nowait())
            except queue.Empty:
                return

    def _keep(self, delivery_id: int) -> None:
        if delivery_id != WAKE:
            self._held.append(delivery_id)

    def _free(self) -> int:
        """How many more deliveries to claim: senders' worth, plus as many again queued.

        The queued ones go out the moment a sender finishes, instead of waiting for the
        next claim (their leases are far longer than that wait).
        """
        with self._lock:
            return self.concurrency * CLAIM_AHEAD - self._in_flight

    def _claim_wanted(self) -> None:
        free = self._free()
        if not self._held or free <= 0:
            return
        ids, self._held = self._held[:free], self._held[free:]
        try:
            self._send_all(deliveries_claim_attempts(ids=ids, limit=len(ids), leases=CLAIM_AHEAD))
        except Exception:  # the database is away: the rows' leases bring them back
            logger.exception("postback relay: claiming wanted deliveries failed")
            close_old_connections()

    def tick(self) -> int:
        """Sweep stale KV entries, then claim as many due deliveries as there are free senders.

        Returns how many were claimed, or FULL when every sender is busy (a backlog).
        """
        close_old_connections()
        try:
            now = time.monotonic()
            if now - self._swept_at >= self.interval:
                kv_sweep()
                self._swept_at = now
            free = self._free()
            if self._backlog and free < max(self.concurrency // CLAIM_BATCHES, 1):
                return FULL  # wait for a batch's worth of room: fewer, larger claims
            deliveries = []
            if free > 0:
                deliveries = deliveries_claim_attempts(limit=free, leases=CLAIM_AHEAD)
        except Exception:  # the database is away: try again next tick, never die
            logger.exception("postback poller tick failed")
            close_old_connections()
            return 0
        self._send_all(deliveries)
        # No free sender is a backlog too: look again as soon as one may be free.
        self._backlog = len(deliveries) == free
        return FULL if self._backlog else len(deliveries)

    # --- sending and recording -------------------------------------------------------

    def _send_all(self, deliveries: list[PostbackDelivery]) -> None:
        for delivery in deliveries:
            with self._lock:
                self._in_flight += 1
            try:
                future = self._senders.submit(self._send, delivery)
            except RuntimeError:  # stopping: released in stop()
                self._sent(delivery.pk, None)
            else:
                future.add_done_callback(functools.partial(self._sent, delivery.pk))

    def _sent(self, delivery_id: int, future: Future | None) -> None:
        """Free the sender slot, whether the send ran, failed or never started (stop())."""
        with self._lock:
            self._in_flight -= 1
            if future is None or future.cancelled():
                self._unsent.append(delivery_id)

    def _send(self, delivery: PostbackDelivery) -> None:
        # One endpoint holds at most its cap of senders (payments/delivery/health.py).
        if not endpoint_slot_take(delivery.url):
            return endpoint_busy(delivery.pk)
        try:
            result = postback_send(
                merchant=delivery.payment.merchant,
                url=delivery.url,
                webhook_id=delivery.webhook_id,
                payload=delivery.payload,
            )
            merchant_id = delivery.payment.merchant.pk
            endpoint_observe(merchant_id=merchant_id, url=delivery.url, result=result)
            self._results.put((delivery.pk, result))
        except Exception:  # the row's lease makes it due again; the next claim retries it
            logger.exception("postback %s: attempt failed", delivery.pk)
        finally:
            endpoint_slot_give(delivery.url)

    def _record_loop(self) -> None:
        try:
            while True:
                try:
                    batch = [self._results.get(timeout=RECORD_IDLE)]
                except queue.Empty:
                    endpoints_flush()  # postbacks the endpoint cap turned away
                    if self._stopping.is_set() and self._in_flight == 0:
                        return
                    continue
                # Linger a little: under load one transaction then carries many attempts.
                until = time.monotonic() + RECORD_LINGER
                while len(batch) < RECORD_BATCH:
                    try:
                        batch.append(self._results.get(timeout=max(until - time.monotonic(), 0)))
                    except queue.Empty:
                        break
                self._record(batch)
                endpoints_flush()  # the endpoints' health from these answers
        finally:
            connection.close()

    def _record(self, batch: list[tuple[int, AttemptResult]]) -> None:
        close_old_connections()
        try:
            attempts_record(results=batch)
        except Exception:  # the rows stay in flight: their leases bring them back
            logger.exception("postback relay: recording %s attempts failed", len(batch))
            close_old_connections()


_poller: DeliveryPoller | None = None


def poller_start() -> DeliveryPoller | None:
    """Start this process's relay (once) unless `POSTBACK_POLL` is off."""
    global _poller
    if not settings.POSTBACK_POLL or _poller is not None:
        return _poller
    _poller = DeliveryPoller(
        interval=settings.POSTBACK_POLL_INTERVAL, concurrency=settings.POSTBACK_POLL_CONCURRENCY
    )
    _poller.start()
    return _poller


def poller_running() -> DeliveryPoller | None:
    """This process's relay, if it runs (a threads or solo pool worker)."""
    return _poller


def poller_stop() -> None:
    global _poller
    if _poller is not None:
        _poller.stop()
        _poller = None
