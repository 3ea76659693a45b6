"""Attempts of merchant postbacks: claim due rows, POST each signed, record the answers.

Claiming and recording work on batches (a handful of statements whatever the size), so
the worker's relay (payments/delivery/poller.py) pays a few database round trips per
batch rather than per postback; `delivery_attempt` is the same with a batch of one.
The claim moves `next_attempt_at` forward by a lease before any network I/O, so a second
task for the same row finds it not due, and a worker killed mid-attempt leaves a row that
falls due again when the lease ends (see payments/delivery/outbox.py).
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from apaygate.http import InvalidIPAddress, merchant_client, merchant_timeout
from apaygate.instruments import DELIVERIES
from payments.delivery.outbox import attempt_lease
from payments.delivery.wire import (
    TEST_EVENT,
    delivery_headers,
    iso_timestamp,
    payload_body,
    retry_after_seconds,
    retry_delay_seconds,
    webhook_id_generate,
)
from payments.models import (
    DeliveryAttempt,
    DeliveryStatus,
    EventType,
    Merchant,
    PaymentEvent,
    PostbackDelivery,
)

logger = logging.getLogger(__name__)

RESPONSE_EXCERPT_BYTES = 2048
# A body up to this size is read to its end so the connection can be reused; a longer one
# is cut off and its connection dropped.
RESPONSE_DRAIN_BYTES = 64 * 1024
IN_FLIGHT = "attempt in progress"
INTERRUPTED = "interrupted: the worker stopped before the attempt finished"


@dataclass(frozen=True)
class AttemptResult:
    """What one HTTP try came back with."""

    webhook_id: str
    started_at: datetime
    duration_ms: int
    status_code: int | None = None
    error: str = ""
    response_body: str = ""
    retry_after: float | None = None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


# --- one attempt -----------------------------------------------------------------------


# What a claimed delivery carries to its sender (a sender thread has no database
# connection, so it must touch nothing else: tests/payments/delivery/test_relay.py).
CLAIM_READS = (
    "webhook_id",
    "event",
    "url",
    "payload",
    "status",
    "attempt_count",
    "next_attempt_at",
    "claimed_until",
    "last_error",
    "updated_at",
    "payment__merchant__postback_secret",
    "payment__merchant__previous_postback_secret",
    "payment__merchant__previous_secret_expires_at",
)


def deliveries_claim_attempts(
    *, limit: int, ids: Sequence[int] | None = None, leases: int = 1
) -> list[PostbackDelivery]:
    """Take up to `limit` due deliveries for one attempt each, in one transaction.

    With `ids`, only those rows (a task was queued for them, so their queue lease is theirs
    to take); without, any due row that no dispatcher has queued. Rows another claimer has
    locked are skipped, never waited for. Each row's `next_attempt_at` moves to the end of
    an attempt lease before any network I/O, so nobody else sends it meanwhile, and a
    worker killed mid-attempt leaves a row that falls due again when the lease ends.
    A caller that may queue a row behind another attempt asks for `leases` attempts' worth.
    Two statements whatever the batch size: one SELECT … FOR UPDATE SKIP LOCKED, one UPDATE.
    """
    now = timezone.now()
    lease_end = now + attempt_lease() * leases
    due = PostbackDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
    if ids is not None:
        due = due.filter(pk__in=ids)
    else:
        due = due.filter(Q(claimed_until__isnull=True) | Q(claimed_until__lte=now))
    with transaction.atomic():
        deliveries = list(
            due.select_for_update(skip_locked=True, of=("self",))
            .select_related("payment__merchant")
            .only(*CLAIM_READS)
            .order_by("next_attempt_at")[:limit]
        )
        if not deliveries:
            return []
        # A row still marked in flight: the previous attempt's worker died before it
        # could write its result. The log says so.
        interrupted = [
            # The claim that started it is the row's last write (its `updated_at`).
            DeliveryAttempt(delivery=delivery, started_at=delivery.updated_at, error=INTERRUPTED)
            for delivery in deliveries
            if delivery.last_error == IN_FLIGHT
        ]
        if interrupted:
            DeliveryAttempt.objects.bulk_create(interrupted)
        PostbackDelivery.objects.filter(pk__in=[d.pk for d in deliveries]).update(
            attempt_count=F("attempt_count") + 1,
            next_attempt_at=lease_end,
            claimed_until=lease_end,
            last_error=IN_FLIGHT,
            updated_at=now,
        )
    for delivery in deliveries:
        delivery.attempt_count += 1
        delivery.next_attempt_at = delivery.claimed_until = lease_end
        delivery.last_error = IN_FLIGHT
        delivery.updated_at = now
    return deliveries


def deliveries_release(*, ids: Sequence[int]) -> int:
    """Give back claimed deliveries that were never sent: due now, the claim's count undone.

    Only rows still marked in flight (ours: nobody else claims a row under its lease).
    """
    now = timezone.now()
    return PostbackDelivery.objects.filter(
        pk__in=ids, status=DeliveryStatus.PENDING, last_error=IN_FLIGHT
    ).update(
        attempt_count=F("attempt_count") - 1,
        next_attempt_at=now,
        claimed_until=None,
        last_error="",
        updated_at=now,
    )


def _response_excerpt(response: requests.Response) -> str:
    """Keep the body's first bytes; read (a bounded amount) to its end for keep-alive."""
    kept = b""
    read = 0
    for chunk in response.iter_content(8192):
        if len(kept) < RESPONSE_EXCERPT_BYTES:
            kept += chunk[: RESPONSE_EXCERPT_BYTES - len(kept)]
        read += len(chunk)
        if read > RESPONSE_DRAIN_BYTES:
            break
    return kept.decode("utf-8", errors="replace")


def postback_send(*, merchant: Merchant, url: str, webhook_id: str, payload: dict) -> AttemptResult:
    """POST one signed postback and report what happened; never raises for HTTP trouble."""
    body = payload_body(payload)
    started = timezone.now()
    headers = delivery_headers(merchant=merchant, webhook_id=webhook_id, body=body, at=started)
    clock = time.monotonic()
    status_code: int | None = None
    error = ""
    excerpt = ""
    retry_after = None
    # One shared session per process: keep-alive pools per checked address, no session
    # (and no TCP or TLS handshake) per attempt.
    session = merchant_client(allow_private=settings.POSTBACK_ALLOW_PRIVATE)
    try:
        response = session.post(
            url, data=body.encode(), headers=headers, stream=True, timeout=merchant_timeout()
        )
        try:
            status_code = response.status_code
            excerpt = _response_excerpt(response)
            if status_code in (429, 503):
                retry_after = retry_after_seconds(response.headers.get("Retry-After"))
        finally:
            response.close()  # back to the pool if the body was read to its end
    except InvalidIPAddress:
        error = "refused: the URL resolves to a private or reserved address"
    except requests.Timeout:
        error = "timeout"
    except requests.RequestException as exc:
        error = f"connection error: {type(exc).__name__}"
    if status_code is not None and not 200 <= status_code < 300:
        error = f"HTTP {status_code}" + (
            " (redirects are not followed)" if 300 <= status_code < 400 else ""
        )
    return AttemptResult(
        webhook_id=webhook_id,
        started_at=started,
        duration_ms=int((time.monotonic() - clock) * 1000),
        status_code=status_code,
        error=error[:500],
        response_body=excerpt.replace("\x00", ""),
        retry_after=retry_after,
    )


# The fields `attempts_record` writes back.
RECORDED_FIELDS = (
    "status",
    "last_status_code",
    "last_error",
    "claimed_until",
    "next_attempt_at",
    "delivered_at",
    "updated_at",
)


# What recording reads back (the rest of each row is not needed to move it on).
RECORD_READS = (
    "webhook_id",
    "event",
    "attempt_count",
    "payment__status",
    "payment__provider",
    "payment__merchant_id",
    "last_error",  # IN_FLIGHT unless a resend reset the row meanwhile
)


def _delivery_advance(
    delivery: PostbackDelivery, result: AttemptResult, *, now: datetime
) -> PaymentEvent | None:
    """Move one delivery on after a try (done, retry later, give up); return its event."""
    delivery.last_status_code = result.status_code
    delivery.last_error = result.error
    delivery.claimed_until = None
    delivery.updated_at = now
    event_payload = {
        "webhookId": delivery.webhook_id,
        "event": delivery.event,
        "attempts": delivery.attempt_count,
        "statusCode": result.status_code,
    }
    if result.succeeded:
        delivery.status = DeliveryStatus.SUCCEEDED
        delivery.delivered_at = now
        delivery.next_attempt_at = None
        return _delivery_event(delivery, EventType.DELIVERY_SUCCEEDED, event_payload)
    delay = None
    if result.status_code != 410:
        delay = retry_delay_seconds(
            attempts_made=delivery.attempt_count, retry_after=result.retry_after
        )
    if delay is not None:
        delivery.next_attempt_at = now + timedelta(seconds=delay)
        return None
    delivery.status = DeliveryStatus.FAILED
    delivery.next_attempt_at = None
    event_payload["error"] = result.error
    return _delivery_event(delivery, EventType.DELIVERY_FAILED, event_payload)


def _delivery_event(delivery: PostbackDelivery, type: str, payload: dict) -> PaymentEvent:
    """The event `payments.audit.event_record` would write, built for one bulk insert."""
    payment = delivery.payment
    return PaymentEvent(
        type=type,
        payment=payment,
        merchant_id=payment.merchant_id,
        status=payment.status,
        provider=payment.provider,
        payload=payload,
    )


def _deliveries_save(deliveries: list[PostbackDelivery]) -> None:
    """Write the deliveries back with one UPDATE per distinct set of values.

    Every success of a batch writes the same values (status, code, time), so a batch of
    successes is one statement; a retry has its own jittered time, so it is one of its own.
    Cheaper than `bulk_update`, whose CASE expressions cost more to build than the write.
    """
    groups: dict[tuple, list[int]] = defaultdict(list)
    for delivery in deliveries:
        groups[tuple(getattr(delivery, name) for name in RECORDED_FIELDS)].append(delivery.pk)
    for values, ids in groups.items():
        PostbackDelivery.objects.filter(pk__in=ids).update(
            **dict(zip(RECORDED_FIELDS, values, strict=True))
        )


def attempts_record(*, results: Sequence[tuple[int, AttemptResult]]) -> list[PostbackDelivery]:
    """Keep each attempt and move each delivery on, in one transaction for the whole batch.

    Rows are read again under lock in id order, so two recorders never deadlock. A row
    that is no longer in flight was reset by a resend while its answer was on the way: the
    try is kept in the log, but the row is left as the resend set it (due, queued), so
    the resend still goes out instead of being marked delivered by the earlier try.
    A batch of successes is four statements whatever its size: the locking SELECT, the
    attempts' INSERT, the deliveries' UPDATE and the events' INSERT (a retry adds an
    UPDATE of its own: see `_deliveries_save`).
    """
    by_id = dict(results)
    now = timezone.now()
    with transaction.atomic():
        deliveries = list(
            PostbackDelivery.objects.select_for_update(of=("self",))
            .select_related("payment")
            .only(*RECORD_READS)
            .filter(pk__in=by_id)
            .order_by("pk")
        )
        attempts, events, advanced = [], [], []
        for delivery in deliveries:
            result = by_id[delivery.pk]
            attempts.append(
                DeliveryAttempt(
                    delivery=delivery,
                    started_at=result.started_at,
                    duration_ms=result.duration_ms,
                    status_code=result.status_code,
                    error=result.error,
                    response_body=result.response_body,
                )
            )
            if delivery.last_error != IN_FLIGHT:
                continue  # reset by a resend meanwhile
            advanced.append(delivery)
            event = _delivery_advance(delivery, result, now=now)
            if event is not None:
                events.append(event)
        DeliveryAttempt.objects.bulk_create(attempts)
        _deliveries_save(advanced)
        if events:
            PaymentEvent.objects.bulk_create(events)
    for delivery in deliveries:
        result = by_id[delivery.pk]
        DELIVERIES.labels(outcome=_outcome(delivery, result)).inc()
        logger.info(
            "postback %s attempt %s: %s",
            delivery.webhook_id,
            delivery.attempt_count,
            result.status_code or result.error,
        )
    return deliveries


def delivery_attempt(*, delivery_id: int) -> PostbackDelivery | None:
    """Make one try of a due delivery; return it, or None when it was not due or not ours.

    The same claim, send and record as the worker's relay (payments/delivery/poller.py),
    with a batch of one, in the calling thread.
    """
    claimed = deliveries_claim_attempts(ids=[delivery_id], limit=1)
    if not claimed:
        return None
    (delivery,) = claimed
    result = postback_send(
        merchant=delivery.payment.merchant,
        url=delivery.url,
        webhook_id=delivery.webhook_id,
        payload=delivery.payload,
    )
    recorded = attempts_record(results=[(delivery.pk, result)])
    return recorded[0] if recorded else None


def _outcome(delivery: PostbackDelivery, result: AttemptResult) -> str:
    """The `apaygate_deliveries_total` label: delivered, retrying, or failed for good."""
    if result.succeeded:
        return "delivered"
    return "failed" if delivery.status == DeliveryStatus.FAILED else "retrying"


def delivery_send_test(*, merchant: Merchant, url: str) -> AttemptResult:
    """Send one signed test postback now and report the answer (nothing is stored).

    Lets a merchant check its endpoint and signature code before real payments flow; it
    goes through the same guarded client, so a refused address is refused here too.
    """
    now = timezone.now()
    payload = {
        "event": TEST_EVENT,
        "id": "test",
        "paymentId": "pay_test",
        "status": "succeeded",
        "amount": "1.00",
        "currency": "USD",
        "createdAt": iso_timestamp(now),
        "updatedAt": iso_timestamp(now),
    }
    result = postback_send(
        merchant=merchant, url=url, webhook_id=webhook_id_generate(), payload=payload
    )
    logger.info("test postback for %s: %s", merchant.slug, result.status_code or result.error)
    return result
