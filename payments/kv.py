"""The KV: what the redirect views need, by payment id, kept in Redis. An accelerator only.

The database is the source of truth. Every read falls back to it when Redis misses *or is
unreachable*, and nothing here ever raises: a Redis outage costs one indexed query per
redirect, never a 500. A small circuit breaker (`Breaker`) keeps requests from each waiting
on a dead Redis, and one module-level client (a connection pool with short timeouts) is
reused by every call, rather than the client object Django's cache builds per call.

Entries live for `PAYMENT_TTL` and are dropped when the payment leaves `pending`
(`kv_forget`, on commit). A drop that fails must not leave an entry that sends a shopper
to a closed invoice once Redis is back, so it is retried twice over:
- in this process, before its next Redis command (the set `_unforgotten`);
- from the database, by `kv_sweep()`: every worker's poller (payments/delivery/poller.py)
  drops, each tick, the entries of every payment finalised since the last sweep. Its mark
  lives in Redis itself, so a Redis that lost its data also lost what needed dropping.
The happy path of a redirect stays one Redis GET; the cost of staleness is bounded by the
poller's interval after Redis returns (a second by default), for a drop that failed in a
process that has not spoken to Redis since.

Without `KV_REDIS_URL` (the embedded `make run` mode), the Django cache stands in.

The same client and breaker serve every other use of that Redis by the web and the
drain (`kv_run`, and `kv_run_async` on the event loop): the API throttle's window
(payments/api/authentication.py), the provider breakers' announcements
(`BreakerAnnouncements`, providers/breaker.py), the redirect's fast lane
(payments/shopper/fast_lane.py) and the shopper-event buffer
(payments/shopper/event_buffer.py). One breaker: once Redis failed, none of them waits on
it for `KV_BREAKER_RESET` seconds, and each takes its database fallback at once.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
import weakref
from asyncio import AbstractEventLoop, get_running_loop
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import redis
import redis.asyncio
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from payments import sql
from payments.models import Payment, PaymentStatus
from payments.selectors import public_id_is_well_formed

logger = logging.getLogger(__name__)

# A transition stamps `finalized_at` before its transaction commits: the sweep looks back
# this far past its mark so a slow commit is not missed.
SWEEP_MARGIN = timedelta(seconds=10)
SWEEP_BATCH = 500
SOCKET_TIMEOUT = 0.25


class Breaker:
    """A tiny circuit breaker: after a failure, skip Redis for `reset_after` seconds.

    While open, callers go straight to the database instead of each waiting for a timeout;
    once the time is up, the next call tries Redis again (and reopens it if that fails).
    """

    def __init__(self, *, reset_after: float):
        self.reset_after = reset_after
        self._open_until = 0.0

    @property
    def closed(self) -> bool:
        return time.monotonic() >= self._open_until

    def record_failure(self) -> None:
        self._open_until = time.monotonic() + self.reset_after

    def record_success(self) -> None:
        self._open_until = 0.0


class KVUnavailable(Exception):
    """Redis could not be used for this call (down, slow, or the breaker is open)."""


breaker = Breaker(reset_after=settings.KV_BREAKER_RESET)
_clients: dict[str, redis.Redis] = {}
_clients_lock = threading.Lock()
_unforgotten: set[str] = set()


def _client() -> redis.Redis | None:
    url = settings.KV_REDIS_URL
    if not url:
        return None
    client = _clients.get(url)
    if client is None:
        with _clients_lock:
            client = _clients.get(url) or redis.Redis.from_url(
                url,
                socket_timeout=SOCKET_TIMEOUT,
                socket_connect_timeout=SOCKET_TIMEOUT,
                socket_keepalive=True,
                health_check_interval=30,
                retry_on_timeout=False,
            )
            _clients[url] = client
    return client


def _prefix() -> str:
    return settings.CACHES["default"].get("KEY_PREFIX", "")


def _key(public_id: str) -> str:
    return f"{_prefix()}:payment:{public_id}"


def _sweep_mark_key() -> str:
    return f"{_prefix()}:kv:swept-until"


def _breaker_admit(client) -> None:
    """Refuse at once without a client or while the breaker is open (both run paths)."""
    if client is None:
        raise KVUnavailable("no KV_REDIS_URL")
    if not breaker.closed:
        raise KVUnavailable("breaker open")


def _breaker_failed(exc: redis.RedisError) -> KVUnavailable:
    """Count a Redis failure against the breaker; the error for the caller to raise."""
    if breaker.closed:
        logger.warning("KV unavailable (%s); reading the database", type(exc).__name__)
    breaker.record_failure()
    return KVUnavailable(str(exc))


def _run(command):
    """Run `command(client)` on Redis through the breaker; raise KVUnavailable on trouble."""
    client = _client()
    _breaker_admit(client)
    try:
        if _unforgotten:
            _forget_pending(client)
        result = command(client)
    except redis.RedisError as exc:
        raise _breaker_failed(exc) from exc
    breaker.record_success()
    return result


_async_clients: weakref.WeakKeyDictionary[AbstractEventLoop, redis.asyncio.Redis] = (
    weakref.WeakKeyDictionary()
)


def kv_async_client() -> redis.asyncio.Redis | None:
    """The running event loop's client for the KV's Redis (a client is bound to its loop)."""
    url = settings.KV_REDIS_URL
    if not url:
        return None
    loop = get_running_loop()
    client = _async_clients.get(loop)
    if client is None:
        client = redis.asyncio.Redis.from_url(
            url, socket_timeout=SOCKET_TIMEOUT, socket_connect_timeout=SOCKET_TIMEOUT
        )
        _async_clients[loop] = client
    return client


async def kv_run_async(command: Callable[[redis.asyncio.Redis], Awaitable]):
    """`kv_run` for the event loop: the same breaker, the same KVUnavailable on trouble."""
    client = kv_async_client()
    _breaker_admit(client)
    try:
        result = await command(client)
    except redis.RedisError as exc:
        raise _breaker_failed(exc) from exc
    breaker.record_success()
    return result


def kv_enabled() -> bool:
    """Say whether the KV has a Redis of its own (not so in the embedded mode)."""
    return _client() is not None


def kv_namespaced(name: str) -> str:
    """A Redis key under the KV's prefix, for other small uses of the same server."""
    return f"{_prefix()}:{name}"


def kv_run(command):
    """Run `command(client)` on the KV's Redis and its breaker; raise KVUnavailable on trouble.

    For other per-request uses of the same server (the API throttle), so they share the
    one client and the breaker rather than each building their own.
    """
    return _run(command)


class BreakerAnnouncements:
    """The provider breakers' shared open state (providers/breaker.py) in the KV's Redis.

    One key per provider, living for one reset period. Never raises: a Redis that is away
    reads as "not announced", and each process's breaker then opens on its own failures.
    """

    @staticmethod
    def _key(name: str) -> str:
        return kv_namespaced(f"provider-breaker-open:{name}")

    def announce_open(self, name: str, *, seconds: float) -> None:
        key = self._key(name)
        with contextlib.suppress(KVUnavailable):
            _run(lambda client: client.set(key, "1", px=max(int(seconds * 1000), 1)))

    def announce_closed(self, name: str) -> None:
        key = self._key(name)
        with contextlib.suppress(KVUnavailable):
            _run(lambda client: client.delete(key))

    def is_announced_open(self, name: str) -> bool:
        key = self._key(name)
        try:
            return bool(_run(lambda client: client.exists(key)))
        except KVUnavailable:
            return False


def _forget_pending(client: redis.Redis) -> None:
    pending = list(_unforgotten)
    client.unlink(*(_key(public_id) for public_id in pending))
    _unforgotten.difference_update(pending)
    logger.info("KV: dropped %s entries whose earlier drop had failed", len(pending))


# --- the entry -------------------------------------------------------------------------


# What the redirect views need of a payment: the KV entry's keys.
ENTRY_FIELDS = (
    "pk",
    "merchant_id",
    "provider",
    "status",
    "provider_url",
    "success_url",
    "error_url",
)


def redirect_entry(payment: Payment) -> dict:
    return {name: getattr(payment, name) for name in ENTRY_FIELDS}


def kv_entry_worth_keeping(entry: dict) -> bool:
    """Only a pending payment's entry is refilled on a miss: its provider page is where the
    shopper goes (kv_get, and the fast lane's KV miss)."""
    return entry["status"] == PaymentStatus.PENDING


def kv_entry_value(entry: dict) -> str:
    """The KV's stored form of an entry (what `kv_store` writes, the fast lane's script reads)."""
    return json.dumps(entry)


def kv_entry_from_database(public_id: str) -> dict | None:
    """Read the entry's columns only, as a dict (kv_get's miss, and the fast lane's, which
    refills the KV itself): no model built, no ORDER BY (the id is unique). A KV miss is
    the redirect's slow path; this keeps it one small query, written once rather than
    compiled by the ORM per request (payments/sql.py: that was about a third of a KV
    miss's CPU)."""
    if not public_id_is_well_formed(public_id):
        return None
    columns = ", ".join("id" if name == "pk" else name for name in ENTRY_FIELDS)
    statement = f"SELECT {columns} FROM {sql.table(Payment)} WHERE public_id = %s"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(statement, [public_id])
        row = cursor.fetchone()
    return dict(zip(ENTRY_FIELDS, row, strict=True)) if row is not None else None


def kv_cached(public_id: str) -> dict | None:
    """Return the KV's own entry, or None on a miss or an outage (no database read)."""
    if _client() is None:
        return cache.get(_key(public_id))
    try:
        raw = _run(lambda client: client.get(_key(public_id)))
    except KVUnavailable:
        return None
    return json.loads(raw) if raw is not None else None


def kv_get(public_id: str) -> dict | None:
    """Return the redirect entry of a payment, from the KV or else the database; never raise.

    A miss is refilled while the payment is pending (the only status worth caching: its
    provider page is where the shopper goes). None means no such payment.
    """
    reachable = True
    if _client() is None:
        entry = cache.get(_key(public_id))
    else:
        try:
            raw = _run(lambda client: client.get(_key(public_id)))
        except KVUnavailable:
            raw, reachable = None, False
        entry = json.loads(raw) if raw is not None else None
    if entry is not None:
        return entry
    entry = kv_entry_from_database(public_id)
    if entry is None:
        return None
    if reachable and kv_entry_worth_keeping(entry):
        _store(public_id, entry)
    return entry


def kv_store(payment: Payment) -> None:
    """Write the payment's entry; never raise (a missing entry only costs a query)."""
    _store(payment.public_id, redirect_entry(payment))


def _store(public_id: str, value: dict) -> None:
    key = _key(public_id)
    if _client() is None:
        cache.set(key, value, timeout=settings.PAYMENT_TTL)
        return
    with contextlib.suppress(KVUnavailable):
        _run(lambda client: client.set(key, kv_entry_value(value), ex=settings.PAYMENT_TTL))


def kv_forget(public_id: str) -> None:
    """Drop the entry so redirects read the new status; never raise (on-commit safe).

    Called from `transaction.on_commit`: an exception there would make Django skip the
    hooks after it, such as the one that hands the postback to a worker. A failed drop is
    retried by this process and by `kv_sweep()`.
    """
    if _client() is None:
        cache.delete(_key(public_id))
        return
    try:
        _run(lambda client: client.unlink(_key(public_id)))
    except KVUnavailable:
        _unforgotten.add(public_id)


def kv_sweep(*, now: datetime | None = None) -> int | None:
    """Drop the entries of payments finalised since the last sweep; return how many ids.

    Returns None when Redis is not reachable (the mark stays, so the next sweep covers the
    gap). Without a mark (first run, or a Redis that lost its data) it looks back one
    `PAYMENT_TTL`, the longest an entry lives.
    """
    if _client() is None:
        return None
    now = now or timezone.now()
    try:
        mark = _run(lambda client: client.get(_sweep_mark_key()))
    except KVUnavailable:
        return None
    since = (
        datetime.fromisoformat(mark.decode()) - SWEEP_MARGIN
        if mark
        else now - timedelta(seconds=settings.PAYMENT_TTL)
    )
    public_ids = (
        Payment.objects.filter(finalized_at__gte=since, finalized_at__lte=now)
        .values_list("public_id", flat=True)
        .iterator(chunk_size=SWEEP_BATCH)
    )
    swept = 0
    batch: list[str] = []
    try:
        for public_id in public_ids:
            batch.append(_key(public_id))
            if len(batch) == SWEEP_BATCH:
                _run(lambda client, keys=tuple(batch): client.unlink(*keys))
                swept, batch = swept + len(batch), []
        if batch:
            _run(lambda client, keys=tuple(batch): client.unlink(*keys))
            swept += len(batch)
        _run(lambda client: client.set(_sweep_mark_key(), now.isoformat()))
    except KVUnavailable:
        return None
    return swept


def kv_raw_key(public_id: str) -> str:
    """The entry's Redis key, for the ASGI fast lane (payments/shopper/fast_lane.py).

    The value there is the JSON of `redirect_entry`, written by `kv_store`.
    """
    return _key(public_id)
