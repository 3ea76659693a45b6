"""The shopper events' buffer: a bounded Redis stream the redirect appends to, drained into the log.

A redirect must not wait on a durable database write, yet its `shopper.*` event must never
be lost. So the redirect appends the event to a Redis stream (`XADD`, one round trip,
acknowledged before the shopper gets the 302: a web process killed right after answering
loses nothing), and `shopper_events_drain` (beat, every second) copies the stream into
`PaymentEvent` in batches and deletes what it copied.

The stream has a bound (`SHOPPER_EVENTS_MAX` entries): Redis runs with `noeviction`, and
a stream that only a stalled drain empties would otherwise grow until Redis refuses every
write (the KV, the broker, the throttle). Past the bound, or when Redis is away or slow
(the KV's breaker, payments/kv.py), the redirect inserts its event synchronously instead:
slower, never lost, never a 500. The bound is checked and the entry appended in one
script, so concurrent redirects cannot overshoot it.

Each row's primary key is derived from its stream entry id (uuid5), and rows are inserted
with ON CONFLICT DO NOTHING: a drainer that dies between its commit and its XDEL never
writes an event twice. An entry the drain cannot copy (unreadable, or refused by the
database) is moved to a dead-letter list (bounded too) with a log line and a metric, and
the drain carries on: one bad entry never blocks the ones behind it. One drainer runs at a
time (a Redis lock that expires, so a dead drainer holds nobody up for long).
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
import uuid
from datetime import UTC, datetime

import redis
from django.conf import settings
from django.db import DataError, IntegrityError, transaction
from django.db.models import Case, DateTimeField, Value, When

from foundation.instruments import SHOPPER_EVENTS_DEAD_LETTERED, SHOPPER_EVENTS_WRITTEN_DIRECTLY
from payments.audit import event_record_for
from payments.kv import KVUnavailable, kv_namespaced, kv_run
from payments.models import Payment, PaymentEvent

logger = logging.getLogger(__name__)

# One namespace for the derived event ids: uuid5(namespace, "<stream>/<entry id>").
EVENT_ID_NAMESPACE = uuid.UUID("6c1f0a52-4a43-4d0b-9f55-2f6c3f1d9e01")
DRAIN_BATCH = 1000
DRAIN_LOCK_SECONDS = 60
# The dead-letter list keeps this many entries (the newest): it is for staff to look at,
# and must not become the unbounded buffer the stream's bound prevents.
DEAD_LETTER_MAX = 10_000

# KEYS: the stream. ARGV: the bound, then the entry's field/value pairs. Appends the entry
# and returns 1, or returns 0 (nothing written) when the stream is at its bound.
BUFFER_SCRIPT = """
if redis.call('XLEN', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('XADD', KEYS[1], '*', unpack(ARGV, 2))
return 1
"""


def stream_key() -> str:
    """The stream's name, under the cache's key prefix so test runs stay apart."""
    return kv_namespaced("shopper-events")


def dead_letter_key() -> str:
    return f"{stream_key()}:dead"


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


_scripts: dict[int, object] = {}


def _buffer(client: redis.Redis, fields: dict[str, str]) -> bool:
    script = _scripts.get(id(client))
    if script is None:
        script = _scripts[id(client)] = client.register_script(BUFFER_SCRIPT)
    pairs = [item for pair in fields.items() for item in pair]
    return bool(script(keys=[stream_key()], args=[settings.SHOPPER_EVENTS_MAX, *pairs]))


def shopper_event_buffer(*, entry: dict, type: str) -> None:
    """Record a shopper event through the stream; insert it directly if that cannot be."""
    fields = buffer_fields(entry=entry, type=type)
    try:
        if kv_run(lambda client: _buffer(client, fields)):
            return
        reason = "full"
        logger.warning(
            "event buffer full (%s entries): writing directly", settings.SHOPPER_EVENTS_MAX
        )
    except KVUnavailable:
        reason = "unavailable"
    SHOPPER_EVENTS_WRITTEN_DIRECTLY.labels(reason=reason).inc()
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
    event.entry_id = entry_id
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
    """Copy buffered shopper events into the event log; return how many entries were taken.

    Redis away (or the KV's breaker open) is not an error: the stream waits for the next run.
    """
    stream = stream_key()
    try:
        lock = kv_run(
            lambda client: client.lock(
                f"{stream}:drain", timeout=DRAIN_LOCK_SECONDS, blocking=False
            )
        )
        if not kv_run(lambda _client: lock.acquire()):
            return 0
    except KVUnavailable:
        return 0
    try:
        copied = _drain(stream, batch=batch, max_batches=max_batches)
    except KVUnavailable:
        copied = 0  # what was copied is in; the rest waits for Redis
    finally:
        # Past its timeout the lock may be another drainer's now: harmless (ids are derived).
        with contextlib.suppress(redis.exceptions.LockNotOwnedError, KVUnavailable):
            kv_run(lambda _client: lock.release())
    if copied:
        logger.info("copied %s buffered shopper events", copied)
    return copied


def _drain(stream: str, *, batch: int, max_batches: int) -> int:
    copied = 0
    for _ in range(max_batches):
        entries = kv_run(lambda client: client.xrange(stream, count=batch))
        if not entries:
            break
        events, dead = [], []
        for entry_id, fields in entries:
            try:
                events.append(_event_from(stream, entry_id, fields))
            except (KeyError, ValueError, UnicodeDecodeError) as exc:
                dead.append((entry_id, fields, f"unreadable ({type(exc).__name__})"))
        # A payment deleted since (staff cleanup) would fail the whole batch on its key.
        known = set(
            Payment.objects.filter(pk__in={e.payment_id for e in events}).values_list(
                "pk", flat=True
            )
        )
        # Sorted: two drainers (a lock that outlived its timeout) lock rows in the same order.
        events = sorted((e for e in events if e.payment_id in known), key=lambda e: e.pk)
        if events:
            dead += _store_or_set_aside(events, dict(entries))
        if dead:
            _dead_letter(dead)
        kv_run(lambda client, ids=[entry_id for entry_id, _ in entries]: client.xdel(stream, *ids))
        copied += len(entries)
        if len(entries) < batch:
            break
    return copied


def _store_or_set_aside(events: list[PaymentEvent], fields_by_id: dict) -> list[tuple]:
    """Store the batch; if the database refuses it, store one by one and return the refused.

    Only a refusal of the data (a value that does not fit, a broken reference) sets an
    entry aside; a database that is away raises, and the stream keeps everything.
    """
    try:
        _events_store(events)
        return []
    except (DataError, IntegrityError):
        pass
    refused = []
    for event in events:
        try:
            _events_store([event])
        except (DataError, IntegrityError) as exc:
            reason = f"refused by the database ({type(exc).__name__})"
            refused.append((event.entry_id, fields_by_id[event.entry_id], reason))
    return refused


def _dead_letter(dead: list[tuple[bytes, dict, str]]) -> None:
    """Move entries the drain cannot copy to the (bounded) dead-letter list; log and count."""
    key = dead_letter_key()
    records = []
    for entry_id, fields, reason in dead:
        logger.warning(
            "shopper event %s set aside (dead-letter list): %s", entry_id.decode(), reason
        )
        records.append(
            json.dumps(
                {
                    "id": entry_id.decode(),
                    "reason": reason,
                    "fields": {
                        k.decode(errors="replace"): v.decode(errors="replace")
                        for k, v in fields.items()
                    },
                }
            )
        )
    kv_run(
        lambda client: (
            client.pipeline().rpush(key, *records).ltrim(key, -DEAD_LETTER_MAX, -1).execute()
        )
    )
    SHOPPER_EVENTS_DEAD_LETTERED.inc(len(dead))


def shopper_events_backlog() -> tuple[int, float] | None:
    """The stream's length and the age in seconds of its oldest entry (the drain's lag).

    None when Redis cannot be asked. Entry ids start with their Redis time in milliseconds.
    """
    stream = stream_key()
    try:
        length, oldest = kv_run(
            lambda client: client.pipeline().xlen(stream).xrange(stream, count=1).execute()
        )
    except KVUnavailable:
        return None
    if not oldest:
        return length, 0.0
    added_ms = int(oldest[0][0].split(b"-")[0])
    return length, max(time.time() - added_ms / 1000, 0.0)
