"""The shopper events' buffer: a Redis stream the redirect appends to, drained into the log.

A redirect must not wait on a durable database write, yet its `shopper.*` event must never
be lost. So the redirect appends the event to a Redis stream (`XADD`, one round trip,
acknowledged before the shopper gets the 302: a web process killed right after answering
loses nothing), and `shopper_events_drain` (beat, every second) copies the stream into
`PaymentEvent` in batches and deletes what it copied.

Each row's primary key is derived from its stream entry id (uuid5), and rows are inserted
with ON CONFLICT DO NOTHING: a drainer that dies between its commit and its XDEL never
writes an event twice. One drainer runs at a time (a Redis lock that expires, so a dead
drainer holds nobody up for long); a second one finds it taken and leaves.

When Redis is away (or not configured) the event is inserted synchronously instead: the
redirect gets slower, never a 500.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
import weakref
from asyncio import AbstractEventLoop, get_running_loop
from datetime import UTC, datetime

import redis
import redis.asyncio
from django.conf import settings
from django.db import transaction
from django.db.models import Case, DateTimeField, Value, When

from payments.audit import event_record_for
from payments.models import Payment, PaymentEvent

logger = logging.getLogger(__name__)

# One namespace for the derived event ids: uuid5(namespace, "<stream>/<entry id>").
EVENT_ID_NAMESPACE = uuid.UUID("6c1f0a52-4a43-4d0b-9f55-2f6c3f1d9e01")
DRAIN_BATCH = 1000
DRAIN_LOCK_SECONDS = 60
# A buffer write waits at most this long for Redis before the synchronous insert takes over.
REDIS_TIMEOUT_SECONDS = 0.5


def stream_key() -> str:
    """The stream's name, under the cache's key prefix so test runs stay apart."""
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "")
    return f"{prefix}:shopper-events" if prefix else "shopper-events"


def buffer_fields(*, entry: dict, type: str) -> dict[str, str]:
    """The stream fields for one event: what `event_record_for` would have written."""
    return {
        "type": type,
        "payment_id": str(entry["pk"]),
        "merchant_id": str(entry["merchant_id"] or ""),
        "status": entry["status"],
        "provider": entry["provider"],
        "at": event_time(),
    }


def event_time() -> str:
    """An event's `at` field: now, as `_event_from` reads it back."""
    return datetime.now(UTC).isoformat()


_client: redis.Redis | None = None


def _redis() -> redis.Redis | None:
    """The process's one client (its connection pool is reused); None without Redis."""
    global _client
    if not settings.REDIS_URL:
        return None
    if _client is None:
        _client = redis.Redis.from_url(
            settings.REDIS_URL,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        )
    return _client


_async_clients: weakref.WeakKeyDictionary[AbstractEventLoop, redis.asyncio.Redis] = (
    weakref.WeakKeyDictionary()
)


def async_redis() -> redis.asyncio.Redis | None:
    """The running event loop's one asyncio client (a client is bound to its loop)."""
    if not settings.REDIS_URL:
        return None
    loop = get_running_loop()
    client = _async_clients.get(loop)
    if client is None:
        client = redis.asyncio.Redis.from_url(
            settings.REDIS_URL,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        )
        _async_clients[loop] = client
    return client


def shopper_event_buffer(*, entry: dict, type: str) -> None:
    """Record a shopper event through the stream; insert it directly if Redis is away."""
    client = _redis()
    if client is not None:
        try:
            client.xadd(stream_key(), buffer_fields(entry=entry, type=type))
            return
        except redis.RedisError as exc:
            reason = exc.__class__.__name__
            logger.warning("event buffer unavailable (%s): writing directly", reason)
    event_record_for(entry=entry, type=type)


def _event_from(stream: str, entry_id: bytes, fields: dict[bytes, bytes]) -> PaymentEvent:
    data = {key.decode(): value.decode() for key, value in fields.items()}
    event = PaymentEvent(
        id=uuid.uuid5(EVENT_ID_NAMESPACE, f"{stream}/{entry_id.decode()}"),
        type=data["type"],
        payment_id=int(data["payment_id"]),
        merchant_id=int(data["merchant_id"]) if data["merchant_id"] else None,
        status=data["status"],
        provider=data["provider"],
        payload={},
    )
    event.buffered_at = datetime.fromisoformat(data["at"])
    return event


def _events_store(events: list[PaymentEvent]) -> None:
    """Insert a batch (skipping rows already copied) and give each its redirect time."""
    with transaction.atomic():
        PaymentEvent.objects.bulk_create(events, ignore_conflicts=True)
        # `occurred_at` is auto_now_add (the drain time); the shopper acted earlier.
        PaymentEvent.objects.filter(pk__in=[e.pk for e in events]).update(
            occurred_at=Case(
                *[When(pk=e.pk, then=Value(e.buffered_at)) for e in events],
                output_field=DateTimeField(),
            )
        )


def shopper_events_drain(*, batch: int = DRAIN_BATCH, max_batches: int = 20) -> int:
    """Copy buffered shopper events into the event log; return how many were copied."""
    client = _redis()
    if client is None:
        return 0
    stream = stream_key()
    lock = client.lock(f"{stream}:drain", timeout=DRAIN_LOCK_SECONDS, blocking=False)
    if not lock.acquire():
        return 0
    try:
        copied = _drain(client, stream, batch=batch, max_batches=max_batches)
    finally:
        # Past its timeout the lock may be another drainer's now: harmless (ids are derived).
        with contextlib.suppress(redis.exceptions.LockNotOwnedError):
            lock.release()
    if copied:
        logger.info("copied %s buffered shopper events", copied)
    return copied


def _drain(client: redis.Redis, stream: str, *, batch: int, max_batches: int) -> int:
    copied = 0
    for _ in range(max_batches):
        entries = client.xrange(stream, count=batch)
        if not entries:
            break
        events = [_event_from(stream, entry_id, fields) for entry_id, fields in entries]
        # A payment deleted since (staff cleanup) would fail the whole batch on its key.
        known = set(
            Payment.objects.filter(pk__in={e.payment_id for e in events}).values_list(
                "pk", flat=True
            )
        )
        # Sorted: two drainers (a lock that outlived its timeout) lock rows in the same order.
        events = sorted((e for e in events if e.payment_id in known), key=lambda e: e.pk)
        if events:
            _events_store(events)
        client.xdel(stream, *[entry_id for entry_id, _fields in entries])
        copied += len(entries)
        if len(entries) < batch:
            break
    return copied
