"""The worker's relay: due postbacks claimed in batches, sent concurrently, recorded in bulk.

PostgreSQL is the queue (as in Convoy); the broker is only a fast wake-up. Every worker
runs one relay (started on Celery's `worker_init`/`worker_ready`,
payments/delivery/tasks.py) made of three parts:
- a claimer thread that takes due deliveries with `SELECT … FOR UPDATE SKIP LOCKED`
  (`deliveries_claim_attempts`), both the ids the broker's tasks hand it (`want`) and,
  every `POSTBACK_POLL_INTERVAL` seconds, any due row (so a broker outage delays
  postbacks by about one interval and never stops them);
- `concurrency` sender threads that only do HTTP (no database connection each), and
  `concurrency` - cap spare ones (below);
- per merchant URL, a cap (`POSTBACK_ENDPOINT_CONCURRENCY`, payments/delivery/health.py):
  within it a URL's attempts take any of the `concurrency` senders; past it, only senders
  idle at that moment (lent), so one URL alone uses them all. The others' share
  (`concurrency` - cap) stays theirs: while lent senders are out, theirs go to the spare
  threads, so a URL that starts hanging with every sender holds threads, not the others'
  postbacks (`_slot_take`);
- per URL, no more claims than twice its cap (the cap's worth of attempts and as many
  again): on the wire as far as the senders allow, the rest waiting in the relay, each
  handed to a sender the moment an attempt ends. Due rows beyond that stay where they
  are in the schedule, unclaimed, so no claim is made only to be given back (claim, give
  back, claim again cost a one-URL backlog half its rate: docs/decisions.md);
- a recorder thread that writes the finished attempts in one transaction per batch
  (`attempts_record`): whatever finished while the last write ran goes in the next.

Why this shape: a merchant answering in 100 ms holds a sender for 100 ms, so throughput
is senders / latency. Senders without database work can be many (PostgreSQL's
connections stay at two per worker for delivery), and claiming and recording cost a few
round trips per batch instead of about ten per postback.

Two relays, or a relay and a broker task, never send the same attempt twice: the claim
gives each row to one claimer and moves `next_attempt_at` past now before any network
I/O, so a second caller finds it not due and does nothing. Each claim carries a token
and its relay's identity (payments/delivery/claim.py): only the claim's own answer is
recorded, and a relay heartbeats so that, when it dies (or its worker restarts under the
same name), its claims are given back at once rather than after their lease.

Stopping (SIGTERM, Ctrl-C: Celery's `worker_shutdown`) takes at most
`POSTBACK_STOP_GRACE` seconds: no more claims; deliveries claimed but not yet sending are
given back at once; attempts on the wire get the grace to answer, and those still out
after it are given back too (due now, logged as interrupted), so nothing waits for a
lease and only an attempt that may have reached the merchant can be sent twice.

Each scan also drops the KV entries that a failed invalidation may have left behind
(`payments.kv.kv_sweep`), since this loop is the one that keeps running when Redis does
not.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import time
import uuid
from collections import Counter, defaultdict, deque

from django.conf import settings
from django.db import close_old_connections, connection

from payments.delivery.claim import (
    Claimed,
    EndpointRoom,
    claimer_heartbeat,
    claimer_register,
    claimer_retire,
    claims_reclaim_dead,
    deliveries_abandon,
    deliveries_claim_within,
    deliveries_release,
)
from payments.delivery.health import (
    endpoint_observe,
    endpoint_slot_give,
    endpoint_slot_take,
    endpoints_flush,
)
from payments.delivery.record import Answer, attempts_record
from payments.delivery.send import delivery_post
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
# Put on the results queue by stop(): record what came before, then end.
END = None


class DeliveryPoller:
    """Claim due deliveries, send them `concurrency` at once, record the answers in bulk."""

    def __init__(self, *, interval: float, concurrency: int, name: str = ""):
        self.interval = interval
        self.concurrency = concurrency
        # The worker's node name (the same after a restart); else this relay alone (two
        # relays under one name would give back each other's claims on start).
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.claimer: uuid.UUID | None = None  # registered on the first scan
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)  # notified when a send ends
        self._claims: dict[int, uuid.UUID] = {}  # claimed, answer not yet handed over
        self._sending: set[int] = set()  # of those, the ones on the wire
        self._answered: dict[int, uuid.UUID] = {}  # answered, not yet recorded
        # Claims held per URL (waiting, queued or sending): a claim takes no more of a URL
        # than its room (`_room`), so nothing is claimed only to be given back.
        self._per_url: Counter[str] = Counter()
        # Claimed deliveries with no sender yet (their URL at its cap, no idle sender to
        # lend), oldest first: each goes out the moment an attempt ends (`_send_loop`),
        # under the claim it has.
        self._waiting: dict[str, deque[PostbackDelivery]] = defaultdict(deque)
        # Attempts handed to senders, per URL and in all: those within their URL's cap,
        # and those past it on senders lent while idle (`_slot_take`).
        self._on_wire: Counter[str] = Counter()
        self._within = 0
        self._lent = 0
        # URLs the last claim left due rows of (no room): claim again when they have room.
        self._left_behind: frozenset[str] = frozenset()
        # What the relay did (tests, logs): rows claimed, and due rows a claim saw but
        # left in place for lack of room.
        self.counts: Counter[str] = Counter()
        self._swept_at = 0.0
        self._scanned_at = 0.0  # the last claim that left no URL out for its room
        self._beat_at = 0.0
        self._backlog = False  # the last scan found more due rows than room
        self._limit_hit = False  # ... because it took every row it asked for
        self._wanted: queue.SimpleQueue[int] = queue.SimpleQueue()  # ids, or WAKE
        self._held: list[int] = []  # wanted ids waiting for a free sender
        self._jobs: queue.SimpleQueue[PostbackDelivery | None] = queue.SimpleQueue()
        self._results: queue.SimpleQueue[Answer | None] = queue.SimpleQueue()
        # Daemon threads, not a ThreadPoolExecutor: an executor's threads are joined at
        # interpreter exit, so a stopping worker would wait for every merchant still
        # being called (up to POSTBACK_TIMEOUT) past its grace. A send still out when
        # the grace ends is given back instead (stop()). `concurrency` of them, and the
        # share a URL at its cap leaves to the others (`_slot_take`): the others' share
        # stays theirs while senders lent past a URL's cap are still out.
        spare = max(concurrency - settings.POSTBACK_ENDPOINT_CONCURRENCY, 0)
        self._senders = [
            threading.Thread(target=self._send_loop, name=f"postback-{n}", daemon=True)
            for n in range(concurrency + spare)
        ]
        for sender in self._senders:
            sender.start()
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

    def stop(self, *, grace: float | None = None) -> None:
        """Stop within `grace` seconds (POSTBACK_STOP_GRACE), giving back what is held.

        Claimed deliveries not yet sending are given back at once (due now, the claim's
        count undone); attempts on the wire get the grace to answer, and the ones still
        out after it are given back as interrupted. The answers that came are recorded.
        """
        grace = settings.POSTBACK_STOP_GRACE if grace is None else grace
        deadline = time.monotonic() + grace
        self._stopping.set()
        self._wanted.put(WAKE)  # the claimer may be waiting for wanted ids
        for _sender in self._senders:
            self._jobs.put(None)
        if self._thread.is_alive():
            self._thread.join(max(deadline - time.monotonic(), 0.1))
        with self._idle:
            self._idle.wait_for(
                lambda: not self._sending, timeout=max(deadline - time.monotonic(), 0)
            )
            unsent = [(pk, t) for pk, t in self._claims.items() if pk not in self._sending]
            out = [(pk, t) for pk, t in self._claims.items() if pk in self._sending]
            self._claims.clear()
            self._waiting.clear()
            self._per_url.clear()
        self._give_back(unsent, out)
        self._results.put(END)
        self._recorder.join(max(deadline - time.monotonic(), 1.0))
        with self._lock:  # answers the recorder could not write in time: ours to give back
            unrecorded, self._answered = list(self._answered.items()), {}
        self._give_back([], unrecorded)
        self._slots_give_back()
        if self.claimer is not None:
            try:
                claimer_retire(claimer=self.claimer)
            except Exception:  # the database is away: the heartbeat's silence does it
                logger.exception("postback relay: retiring %s failed", self.name)
        connection.close()

    def _slots_give_back(self) -> None:
        """Free the URL slots of deliveries handed out after the senders stopped."""
        while True:
            try:
                delivery = self._jobs.get_nowait()
            except queue.Empty:
                return
            if delivery is not None:
                with self._lock:
                    self._slot_give(delivery.url)

    def _give_back(self, unsent: list, out: list) -> None:
        """Make the claims this relay still holds due again now (see stop())."""
        try:
            released = deliveries_release(claims=unsent)
            abandoned = deliveries_abandon(claims=out)
        except Exception:  # the database is away: their leases bring them back
            logger.exception("postback relay: giving back %s claims failed", len(unsent + out))
            return
        if released or abandoned:
            logger.info(
                "postback relay stopped: gave back %s unsent, %s unanswered", released, abandoned
            )

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
                self._dispatch_waiting()
                if time.monotonic() >= next_scan:
                    # A scan that filled every free sender probably left more due rows:
                    # come back soon rather than a whole interval later.
                    wait = BACKLOG_WAIT if self.tick() == FULL else self.interval
                    next_scan = time.monotonic() + wait
        finally:
            connection.close()

    def _wait_for_wanted(self, *, timeout: float) -> None:
        """Sleep until a task wants a delivery or `timeout` passes; gather what is wanted."""
        if self._held and not self._room_for_wanted():
            self._stopping.wait(min(timeout, BACKLOG_WAIT))  # wait for free senders
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
            return self.concurrency * CLAIM_AHEAD - len(self._claims)

    def _claimer_id(self) -> uuid.UUID:
        """This relay's identity on its claims, registered on first use."""
        if self.claimer is None:
            self.claimer = claimer_register(name=self.name)
            self._beat_at = time.monotonic()
        return self.claimer

    def _heartbeat(self, now: float) -> None:
        """Say this relay is alive; give back the claims of relays that are not."""
        if self.claimer is None:
            self._claimer_id()  # registering is a heartbeat
        elif now - self._beat_at >= settings.POSTBACK_CLAIMER_HEARTBEAT:
            claimer_heartbeat(claimer=self.claimer, name=self.name)
            self._beat_at = now
        else:
            return
        claims_reclaim_dead()

    def _url_limit(self) -> int:
        """Claims one URL may hold: its cap's worth and as many again.

        With the shipped 48 of 64 senders, that is every sender on the wire (lent past
        the cap while idle) and 32 waiting, and the others keep claims for their share.
        A waiting one goes out when an attempt ends, so it waits behind one attempt at
        most: the claim's lease (CLAIM_AHEAD attempts) covers that.
        """
        return settings.POSTBACK_ENDPOINT_CONCURRENCY * CLAIM_AHEAD

    def _room(self, *, least: int = 1) -> EndpointRoom:
        with self._lock:
            held = {url: n for url, n in self._per_url.items() if n}
        return EndpointRoom(per_url=self._url_limit(), held=held, least=least)

    def _room_for_wanted(self) -> bool:
        """Room to claim the wanted ids: for all of them, or in a backlog a batch's worth
        (each claim is a transaction: a few large ones beat many of one or two rows)."""
        return self._free() >= min(self._batch(), len(self._held))

    def _claim_wanted(self) -> None:
        free = self._free()
        if not self._held or not self._room_for_wanted():
            return
        ids, self._held = self._held[:free], self._held[free:]
        try:
            claimed = deliveries_claim_within(
                ids=ids,
                limit=len(ids),
                room=self._room(),
                leases=CLAIM_AHEAD,
                claimer=self._claimer_id(),
            )
        except Exception:  # the database is away: the rows' leases bring them back
            logger.exception("postback relay: claiming wanted deliveries failed")
            close_old_connections()
            return
        self._take(claimed)
        if claimed.left_behind:  # left for lack of room: the next scans take them
            self._left_behind |= claimed.left_behind
            self._backlog = True

    def _batch(self) -> int:
        return max(self.concurrency // CLAIM_BATCHES, 1)

    def _worth_a_claim(self, free: int) -> bool:
        """In a backlog: is there room for a batch (fewer, larger claims)?

        When the last claim was cut short only by URLs' room, the rows left are of those
        URLs: wait until one of them has a batch's worth (or all it may hold) free.
        """
        if free < self._batch():
            return False
        if not self._left_behind or self._limit_hit:
            return True
        least = min(self._batch(), self._url_limit())
        with self._lock:
            return any(self._url_limit() - self._per_url[url] >= least for url in self._left_behind)

    def tick(self) -> int:
        """Sweep stale KV entries, then claim as many due deliveries as there is room for.

        Room is free senders' worth (and as many again queued), and per URL what its cap
        leaves (`_per_url`). Returns how many were claimed, or FULL in a backlog (due rows
        left behind, or every sender busy): the claimer then looks again soon.
        """
        close_old_connections()
        try:
            now = time.monotonic()
            self._heartbeat(now)
            if now - self._swept_at >= self.interval:
                kv_sweep()
                self._swept_at = now
            free = self._free()
            # Every interval a full scan, whatever the backlog waits for: due rows of other
            # URLs are found even while the ones left behind have no room.
            scan = now - self._scanned_at >= self.interval
            if self._backlog and not scan and not self._worth_a_claim(free):
                return FULL  # wait for a batch's worth of room: fewer, larger claims
            claimed = None
            if free > 0:
                least = 1 if scan else min(self._batch(), self._url_limit())
                self._scanned_at = now if scan else self._scanned_at
                claimed = deliveries_claim_within(
                    limit=free,
                    room=self._room(least=least),
                    leases=CLAIM_AHEAD,
                    claimer=self._claimer_id(),
                )
        except Exception:  # the database is away: try again next tick, never die
            logger.exception("postback poller tick failed")
            close_old_connections()
            return 0
        if claimed is None:  # no free sender is a backlog too: look again soon
            self._backlog = True
            return FULL
        self._take(claimed)
        # Took all it asked for: more may be due anywhere. Rows left for a URL's room are
        # waited for by that URL's room (`_worth_a_claim`), not polled for: a claim that
        # leaves a URL out walks past all its due rows.
        self._limit_hit = len(claimed.deliveries) == free
        self._left_behind = claimed.left_behind
        self._backlog = self._limit_hit or bool(claimed.left_behind)
        return FULL if self._backlog else len(claimed.deliveries)

    # --- sending and recording -------------------------------------------------------

    def _take(self, claimed: Claimed) -> None:
        """Hold the claimed deliveries; hand to senders those that may go now."""
        with self._lock:
            self.counts["claimed"] += len(claimed.deliveries)
            self.counts["left"] += claimed.seen - len(claimed.deliveries)
            for delivery in claimed.deliveries:
                self._claims[delivery.pk] = delivery.claim_token
                self._per_url[delivery.url] += 1
                self._waiting[delivery.url].append(delivery)
            ready = self._hand_out()
        for delivery in ready:
            self._jobs.put(delivery)

    def _dispatch_waiting(self) -> None:
        """Hand waiting deliveries to senders as far as slots allow (`_hand_out`).

        A sender calls it when its attempt ends (a slot of its URL, and a sender, are
        free); the claimer each round (a slot may be freed by another relay in the
        process, e.g. in tests).
        """
        with self._lock:
            if self._stopping.is_set():
                return
            ready = self._hand_out()
        for delivery in ready:
            self._jobs.put(delivery)

    def _hand_out(self) -> list[PostbackDelivery]:
        """The waiting deliveries that may go to senders now (caller holds the lock).

        Oldest first per URL; first every URL's deliveries within its cap, then, on the
        senders still idle, those past their caps (lent: `_slot_take`). So a URL is lent
        senders only when no other URL's postbacks wait within their caps.
        """
        ready = []
        for lend in (False, True):
            for url in list(self._waiting):
                waiting = self._waiting[url]
                while waiting and self._slot_take(url, lend=lend):
                    ready.append(waiting.popleft())
                if not waiting:
                    del self._waiting[url]
        return ready

    def _slot_take(self, url: str, *, lend: bool) -> bool:
        """Take a sending slot for `url` if one is free now (caller holds the lock).

        Within its URL's cap (`POSTBACK_ENDPOINT_CONCURRENCY`): while fewer than
        `concurrency` attempts within their caps are out. Past the cap (`lend`): only on
        a sender idle now (fewer than `concurrency` attempts out in all), so a URL alone
        may use every sender. A lent sender is not the others' to wait for: they keep
        their `concurrency` - cap within their own caps, on the spare senders while lent
        ones are out (no more than that many are ever lent, so every delivery handed out
        has a thread: `__init__`). A URL that starts hanging on lent senders holds more
        threads, never the others' share.
        """
        cap = settings.POSTBACK_ENDPOINT_CONCURRENCY
        if self._on_wire[url] < cap:
            if self._within >= self.concurrency or not endpoint_slot_take(url):
                return False
            self._within += 1
        elif lend and self._within + self._lent < self.concurrency:
            endpoint_slot_take(url, lent=True)
            self._lent += 1
        else:
            return False
        self._on_wire[url] += 1
        return True

    def _slot_give(self, url: str) -> None:
        """An attempt handed to a sender is over (caller holds the lock)."""
        on_wire = self._on_wire[url]
        if on_wire <= settings.POSTBACK_ENDPOINT_CONCURRENCY:
            self._within -= 1
        else:
            self._lent -= 1
        if on_wire <= 1:
            del self._on_wire[url]
        else:
            self._on_wire[url] = on_wire - 1
        endpoint_slot_give(url)

    def _send_loop(self) -> None:
        """One sender: POST claimed deliveries (no database connection).

        Each delivery comes with a slot of its URL already taken (`_slot_take`): within
        its cap, or past it on a sender that was idle (payments/delivery/health.py).
        """
        while (delivery := self._jobs.get()) is not None:
            with self._lock:
                if self._stopping.is_set() or delivery.pk not in self._claims:
                    self._slot_give(delivery.url)
                    continue  # stopping: stop() gives the claim back
                self._sending.add(delivery.pk)
            result = None
            try:
                result = delivery_post(delivery)
                endpoint_observe(
                    merchant_id=delivery.payment.merchant.pk, url=delivery.url, result=result
                )
            except Exception:  # the row's lease makes it due again; the next claim retries it
                logger.exception("postback %s: attempt failed", delivery.pk)
            with self._idle:
                self._slot_give(delivery.url)
                self._sending.discard(delivery.pk)
                if self._claims.pop(delivery.pk, None) is not None:
                    self._release_url(delivery.url)
                    if result is not None:
                        self._answered[delivery.pk] = delivery.claim_token
                self._idle.notify_all()
            self._dispatch_waiting()  # the next waiting ones, at once
            if result is not None:
                self._results.put((delivery.pk, delivery.claim_token, result))

    def _release_url(self, url: str) -> None:
        """One claim of `url` is over (caller holds the lock)."""
        self._per_url[url] -= 1
        if self._per_url[url] <= 0:
            del self._per_url[url]

    def _record_loop(self) -> None:
        try:
            while True:
                try:
                    first = self._results.get(timeout=RECORD_IDLE)
                except queue.Empty:
                    endpoints_flush()
                    continue
                if first is END:
                    endpoints_flush()
                    return
                batch = [first]
                # Linger a little: under load one transaction then carries many attempts.
                until = time.monotonic() + RECORD_LINGER
                ended = False
                while len(batch) < RECORD_BATCH:
                    try:
                        answer = self._results.get(timeout=max(until - time.monotonic(), 0))
                    except queue.Empty:
                        break
                    if answer is END:
                        ended = True
                        break
                    batch.append(answer)
                self._record(batch)
                endpoints_flush()  # the endpoints' health from these answers
                if ended:
                    return
        finally:
            connection.close()

    def _record(self, batch: list[Answer]) -> None:
        close_old_connections()
        try:
            attempts_record(results=batch)
        except Exception:  # the rows stay in flight: their leases bring them back
            logger.exception("postback relay: recording %s attempts failed", len(batch))
            close_old_connections()
        with self._lock:
            for delivery_id, _token, _result in batch:
                self._answered.pop(delivery_id, None)


_poller: DeliveryPoller | None = None


def poller_start(*, name: str = "") -> DeliveryPoller | None:
    """Start this process's relay (once) unless `POSTBACK_POLL` is off.

    `name` is the worker's node name: a relay started under the name of one that died
    gives back that one's claims at once.
    """
    global _poller
    if not settings.POSTBACK_POLL or _poller is not None:
        return _poller
    _poller = DeliveryPoller(
        interval=settings.POSTBACK_POLL_INTERVAL,
        concurrency=settings.POSTBACK_POLL_CONCURRENCY,
        name=name,
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
