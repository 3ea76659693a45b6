"""Export services: `PaymentEvent` is the outbox, BigQuery `payment_events` the destination.

Guarantees:
- an event is marked exported only after BigQuery accepted its row;
- a refused row is recorded on its event (`export_error`, `export_attempts`) and retried on
  every later run, behind the fresh events, so one bad row never holds the others back;
- a request that fails as a whole (network, quota, 5xx) changes nothing on the events and
  puts the exporter in exponential backoff; nothing is ever dropped;
- every row carries its event id as `insertId`, so a resend is de-duplicated by BigQuery,
  and the backfill first asks BigQuery which ids it already holds.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from payments.currencies import amount_format
from payments.models import PaymentEvent
from reporting.export.client import (
    bigquery_enabled,
    bigquery_existing_event_ids,
    bigquery_insert_rows,
)
from reporting.export.status import export_state as _state
from reporting.export.status import export_state_save as _save_state

logger = logging.getLogger(__name__)

# BigQuery accepts 10 MB per insertAll request and recommends staying near 5 MB.
MAX_REQUEST_BYTES = 5 * 1024 * 1024 - 64 * 1024
# Per-row overhead of the request envelope ({"insertId": ..., "json": ...}).
ROW_OVERHEAD_BYTES = 64
# One run drains batch after batch for at most this long; beat starts the next run.
DEFAULT_RUN_BUDGET_SECONDS = 50.0
BACKOFF_MAX_SECONDS = 600.0
NUMERIC_QUANTUM = Decimal("0.000000001")  # BigQuery NUMERIC keeps 9 decimal places


class ExportRequestFailed(Exception):
    """A request to BigQuery failed as a whole; its rows were not accepted."""


# --- rows -------------------------------------------------------------------------------


def _numeric(value: Decimal | None) -> str | None:
    if value is None:
        return None
    return format(value.quantize(NUMERIC_QUANTUM, rounding=ROUND_HALF_EVEN).normalize(), "f")


def email_digest(email: str) -> str | None:
    """Hash an e-mail the way the dashboards join on it: trimmed, lower-cased, SHA-256."""
    email = (email or "").strip().lower()
    return hashlib.sha256(email.encode()).hexdigest() if email else None


def event_row(event: PaymentEvent, *, exported_at: datetime) -> dict[str, Any]:
    """Build the BigQuery row for one event (its payment and merchant must be loaded)."""
    payment = event.payment
    merchant = event.merchant or (payment.merchant if payment else None)
    row: dict[str, Any] = {
        "event_id": str(event.id),
        "type": event.type,
        "occurred_at": event.occurred_at.isoformat(),
        "payment_id": payment.public_id if payment else None,
        "merchant_id": merchant.id if merchant else None,
        "merchant_slug": merchant.slug if merchant else None,
        "merchant_reference": payment.merchant_reference if payment else None,
        "provider": event.provider or (payment.provider if payment else None),
        "status": event.status,
        "is_test": payment.is_test if payment else None,
        "payment_type": payment.payment_type if payment else None,
        "amount": amount_format(payment.amount, payment.currency) if payment else None,
        "currency": payment.currency if payment else None,
        "provider_amount": (
            amount_format(payment.provider_amount, payment.provider_currency)
            if payment and payment.provider_amount is not None
            else None
        ),
        "provider_currency": (payment.provider_currency or None) if payment else None,
        "exchange_rate": _numeric(payment.exchange_rate) if payment else None,
        "customer_email_sha256": email_digest(payment.customer_email) if payment else None,
        "customer_email": None,
        "customer_name": None,
        "payload": json.dumps(event.payload, cls=DjangoJSONEncoder, sort_keys=True),
        "exported_at": exported_at.isoformat(),
    }
    if payment and settings.BIGQUERY_EXPORT_RAW_EMAIL:
        row["customer_email"] = payment.customer_email or None
    if payment and settings.BIGQUERY_EXPORT_CUSTOMER_NAME:
        row["customer_name"] = payment.customer_name or None
    return row


def _request_chunks(rows: Sequence[dict]) -> Iterator[tuple[int, int]]:
    """Split rows into [start, end) ranges whose JSON stays under the request size limit."""
    start, size = 0, 0
    for index, row in enumerate(rows):
        row_bytes = len(json.dumps(row, separators=(",", ":"))) + ROW_OVERHEAD_BYTES
        if index > start and size + row_bytes > MAX_REQUEST_BYTES:
            yield start, index
            start, size = index, 0
        size += row_bytes
    if start < len(rows):
        yield start, len(rows)


@dataclass
class _SendOutcome:
    accepted: list[Any] = field(default_factory=list)
    refused: dict[Any, str] = field(default_factory=dict)
    failure: Exception | None = None


def _send(events: Sequence[PaymentEvent], *, exported_at: datetime) -> _SendOutcome:
    """Send events in size-bounded requests; stop at the first request that fails as a whole."""
    outcome = _SendOutcome()
    rows = [event_row(event, exported_at=exported_at) for event in events]
    for start, end in _request_chunks(rows):
        try:
            refused = bigquery_insert_rows(
                rows=rows[start:end], row_ids=[row["event_id"] for row in rows[start:end]]
            )
        except Exception as exc:
            outcome.failure = exc
            break
        for offset, event in enumerate(events[start:end]):
            if offset in refused:
                outcome.refused[event.id] = refused[offset]
            else:
                outcome.accepted.append(event.id)
    return outcome


def _record(outcome: _SendOutcome, *, exported_at: datetime, also_exported: Sequence = ()) -> None:
    """Write the outcome onto the events (inside the caller's transaction)."""
    done = [*outcome.accepted, *also_exported]
    if done:
        PaymentEvent.objects.filter(id__in=done).update(exported_at=exported_at, export_error="")
    for event_id, message in outcome.refused.items():
        PaymentEvent.objects.filter(id=event_id).update(
            export_attempts=F("export_attempts") + 1, export_error=message
        )
        logger.warning("bigquery export refused event %s: %s", event_id, message[:300])


def _claim(queryset: QuerySet[PaymentEvent], *, limit: int, order: Sequence[str]) -> list:
    """Lease up to `limit` events to this exporter and return them, payment and merchant loaded.

    The claim is a short transaction: `SELECT … FOR UPDATE SKIP LOCKED` of events nobody
    holds a lease on, then an UPDATE of their `export_claimed_until`. The send happens
    after the commit, outside any transaction; a second exporter skips leased events, and
    an exporter that dies mid-send only delays its events until the lease ends.
    """
    now = timezone.now()
    free = queryset.filter(Q(export_claimed_until__isnull=True) | Q(export_claimed_until__lt=now))
    with transaction.atomic():
        ids = list(
            free.select_for_update(skip_locked=True)
            .order_by(*order)
            .values_list("id", flat=True)[:limit]
        )
        if ids:
            lease = timedelta(seconds=settings.BIGQUERY_CLAIM_LEASE)
            PaymentEvent.objects.filter(id__in=ids).update(export_claimed_until=now + lease)
    if not ids:
        return []
    return list(
        PaymentEvent.objects.filter(id__in=ids)
        .select_related("payment", "merchant")
        .order_by(*order)
    )


def _record_and_release(
    events: Sequence[PaymentEvent],
    outcome: _SendOutcome,
    *,
    exported_at: datetime,
    also_exported: Sequence = (),
) -> None:
    """Write what BigQuery said onto the events and end their lease, in one transaction."""
    with transaction.atomic():
        _record(outcome, exported_at=exported_at, also_exported=also_exported)
        PaymentEvent.objects.filter(id__in=[e.id for e in events]).update(export_claimed_until=None)


# --- the periodic export -------------------------------------------------------------------


@dataclass
class BatchResult:
    claimed: int = 0
    exported: int = 0
    refused: int = 0


def export_batch(*, batch_size: int | None = None) -> BatchResult:
    """Claim up to one batch of un-exported events, send it, and record what BigQuery said.

    Events are leased first (`_claim`), sent outside any transaction, then recorded.
    The send is bounded by BIGQUERY_REQUEST_TIMEOUT. Fresh events go before ones that
    BigQuery refused before, so a bad row never blocks the queue.
    """
    batch_size = batch_size or settings.BIGQUERY_BATCH_SIZE
    now = timezone.now()
    events = _claim(
        PaymentEvent.objects.filter(exported_at__isnull=True),
        limit=batch_size,
        order=("export_attempts", "occurred_at", "id"),
    )
    if not events:
        return BatchResult()
    outcome = _send(events, exported_at=now)
    # Rows accepted before a failing request are recorded, then we raise.
    _record_and_release(events, outcome, exported_at=now)
    if outcome.failure is not None:
        raise ExportRequestFailed(type(outcome.failure).__name__) from outcome.failure
    return BatchResult(len(events), len(outcome.accepted), len(outcome.refused))


@dataclass
class RunResult:
    enabled: bool = True
    skipped_backoff: bool = False
    batches: int = 0
    exported: int = 0
    refused: int = 0
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _backoff_seconds(failures: int) -> float:
    base = max(float(settings.BIGQUERY_EXPORT_INTERVAL), 0.01)
    delay = min(base * 2 ** (failures - 1), BACKOFF_MAX_SECONDS)
    return delay * random.uniform(0.9, 1.1)


def export_run(*, budget_seconds: float = DEFAULT_RUN_BUDGET_SECONDS) -> RunResult:
    """Drain un-exported events batch by batch, unless export is off or backing off.

    A failing request stops the run and doubles the wait before the next one (starting at
    BIGQUERY_EXPORT_INTERVAL, capped at ten minutes); the first success resets it.
    """
    if not bigquery_enabled():
        return RunResult(enabled=False)
    state = _state()
    if state.get("retry_at", 0) > time.time():
        return RunResult(skipped_backoff=True)

    result = RunResult()
    started = time.monotonic()
    batch_size = settings.BIGQUERY_BATCH_SIZE
    try:
        while time.monotonic() - started < budget_seconds:
            batch = export_batch(batch_size=batch_size)
            if batch.claimed:
                result.batches += 1
            result.exported += batch.exported
            result.refused += batch.refused
            # A short batch means the queue is drained (or the rest is claimed elsewhere).
            if batch.claimed < batch_size or batch.exported == 0:
                break
    except Exception as exc:
        cause = exc.__cause__ or exc
        failures = int(state.get("failures", 0)) + 1
        delay = _backoff_seconds(failures)
        result.error = f"{type(cause).__name__}: {str(cause)[:200]}"
        _save_state(
            {
                **state,
                "failures": failures,
                "retry_at": time.time() + delay,
                "last_error": result.error,
                "last_error_at": timezone.now().isoformat(),
            }
        )
        logger.warning(
            "bigquery export failed (%s, %d in a row); next try in %.1fs",
            type(cause).__name__,
            failures,
            delay,
        )
        return result

    if result.batches or state.get("failures"):
        _save_state(
            {
                **state,
                "failures": 0,
                "retry_at": 0,
                "last_success_at": timezone.now().isoformat(),
            }
        )
    return result


# --- backfill ---------------------------------------------------------------------------


@dataclass
class BackfillResult:
    scanned: int = 0
    already_present: int = 0
    sent: int = 0
    refused: int = 0
    skipped_busy: int = 0
    total: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def export_backfill(
    *,
    since: date | None = None,
    chunk_size: int | None = None,
    on_total: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> BackfillResult:
    """Re-export every event since a day (all of them without one), sending only missing rows.

    Safe to re-run: each chunk first asks BigQuery which event ids it already holds and
    sends only the others, with the same row ids as the periodic export. Events the
    exporter holds at that moment are skipped (it is sending them). Raises
    ExportRequestFailed when BigQuery fails; what was done so far is kept.
    """
    chunk_size = chunk_size or settings.BIGQUERY_BATCH_SIZE
    queryset = PaymentEvent.objects.all()
    if since is not None:
        start = datetime(since.year, since.month, since.day, tzinfo=timezone.get_current_timezone())
        queryset = queryset.filter(occurred_at__gte=start)
    result = BackfillResult(total=queryset.count())
    if on_total:
        on_total(result.total)
    last: tuple[datetime, Any] | None = None

    while True:
        page_qs = queryset
        if last is not None:
            page_qs = page_qs.filter(
                Q(occurred_at__gt=last[0]) | Q(occurred_at=last[0], id__gt=last[1])
            )
        now = timezone.now()
        page = _claim(page_qs, limit=chunk_size, order=("occurred_at", "id"))
        if not page:
            break
        last = (page[-1].occurred_at, page[-1].id)
        try:
            present = bigquery_existing_event_ids(event_ids=[str(e.id) for e in page])
        except Exception as exc:
            _record_and_release(page, _SendOutcome(), exported_at=now)
            raise ExportRequestFailed(type(exc).__name__) from exc
        to_send = [e for e in page if str(e.id) not in present]
        outcome = _send(to_send, exported_at=now)
        already = [e.id for e in page if str(e.id) in present and e.exported_at is None]
        _record_and_release(page, outcome, exported_at=now, also_exported=already)
        result.scanned += len(page)
        result.already_present += len(present)
        result.sent += len(outcome.accepted)
        result.refused += len(outcome.refused)
        if on_progress:
            on_progress(len(page))
        if outcome.failure is not None:
            raise ExportRequestFailed(type(outcome.failure).__name__) from outcome.failure

    result.skipped_busy = max(result.total - result.scanned, 0)
    return result
