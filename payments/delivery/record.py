"""Recording postback answers: the attempt log, and the row moved on by its claim's owner.

Answers are recorded in batches (one transaction for whatever finished meanwhile, a few
statements whatever its size). Each answer carries the token of the claim it was sent
under (payments/delivery/claim.py); only an answer whose token is still the row's moves
the row on. Any other answer (its claim was given back and the row claimed again, or a
resend reset the row) is kept in the attempt log as `stale` and changes nothing else, so a
late answer never overwrites a newer attempt's.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from foundation.instruments import DELIVERIES
from payments.delivery.send import AttemptResult
from payments.delivery.wire import retry_delay_seconds
from payments.models import (
    DeliveryAttempt,
    DeliveryStatus,
    EventType,
    PaymentEvent,
    PostbackDelivery,
)

logger = logging.getLogger(__name__)

# One answer to record: the delivery, the token it was claimed under, what came back.
Answer = tuple[int, uuid.UUID | None, AttemptResult]

# The fields `attempts_record` writes back.
RECORDED_FIELDS = (
    "status",
    "last_status_code",
    "last_error",
    "claimed_until",
    "claim_token",
    "claimed_by",
    "next_attempt_at",
    "delivered_at",
    "updated_at",
)

# What recording reads back (the rest of each row is not needed to move it on).
RECORD_READS = (
    "webhook_id",
    "event",
    "attempt_count",
    "claim_token",
    "payment__status",
    "payment__provider",
    "payment__merchant_id",
)


def _delivery_advance(
    delivery: PostbackDelivery, result: AttemptResult, *, now: datetime
) -> PaymentEvent | None:
    """Move one delivery on after a try (done, retry later, give up); return its event."""
    delivery.last_status_code = result.status_code
    delivery.last_error = result.error
    delivery.claimed_until = None
    delivery.claim_token = None
    delivery.claimed_by = None
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


def attempts_record(*, results: Sequence[Answer]) -> list[PostbackDelivery]:
    """Keep each attempt and move on the rows whose claim it answers, in one transaction.

    Rows are read again under lock in id order, so two recorders never deadlock. An answer
    whose token is not the row's current one is stale: logged, nothing else (see the
    module's docstring). A batch of successes is four statements whatever its size: the
    locking SELECT, the attempts' INSERT, the deliveries' UPDATE and the events' INSERT (a
    retry adds an UPDATE of its own: see `_deliveries_save`). Returns the rows moved on.
    """
    by_id = {delivery_id: (token, result) for delivery_id, token, result in results}
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
            token, result = by_id[delivery.pk]
            owner = token is not None and delivery.claim_token == token
            attempts.append(
                DeliveryAttempt(
                    delivery=delivery,
                    started_at=result.started_at,
                    duration_ms=result.duration_ms,
                    status_code=result.status_code,
                    error=result.error,
                    response_body=result.response_body,
                    stale=not owner,
                )
            )
            if not owner:
                continue
            advanced.append(delivery)
            event = _delivery_advance(delivery, result, now=now)
            if event is not None:
                events.append(event)
        DeliveryAttempt.objects.bulk_create(attempts)
        _deliveries_save(advanced)
        if events:
            PaymentEvent.objects.bulk_create(events)
    moved = {delivery.pk for delivery in advanced}
    for delivery in deliveries:
        _token, result = by_id[delivery.pk]
        outcome = _outcome(delivery, result) if delivery.pk in moved else "stale"
        DELIVERIES.labels(outcome=outcome).inc()
        logger.info(
            "postback %s attempt %s: %s%s",
            delivery.webhook_id,
            delivery.attempt_count,
            result.status_code or result.error,
            "" if delivery.pk in moved else " (stale claim: logged only)",
        )
    return advanced


def _outcome(delivery: PostbackDelivery, result: AttemptResult) -> str:
    """The `apaygate_deliveries_total` label: delivered, retrying, or failed for good."""
    if result.succeeded:
        return "delivered"
    return "failed" if delivery.status == DeliveryStatus.FAILED else "retrying"
