"""Merchant postbacks: the signed, retried, logged delivery of payment events (us -> merchant).

Nothing is lost: a `PostbackDelivery` row is written in the same transaction as the status
change (an outbox), and its schedule lives in the database (`next_attempt_at`), never in a
Celery countdown. Two paths lead to an attempt, and either alone is enough:
- right after commit the row is queued to a worker (fast path);
- `deliveries_claim_due()`, run every couple of seconds by beat, claims due rows with
  `SELECT … FOR UPDATE SKIP LOCKED` and queues them (safety net: a lost message, Redis
  down, a worker killed mid-attempt).

An attempt claims its row under a lock and moves `next_attempt_at` forward by a lease
before any network I/O; a second task for the same row then finds it not due and does
nothing, and a worker killed mid-attempt leaves a row that falls due again when the lease
ends. Merchants may therefore (rarely) see one event twice: `webhook-id` is stable across
retries so they can drop the repeat, as Standard Webhooks asks of them.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apaygate.http import InvalidIPAddress, merchant_session

from .audit import event_record
from .models import (
    DeliveryAttempt,
    DeliveryStatus,
    EventType,
    Merchant,
    Payment,
    PostbackDelivery,
)
from .webhooks import (
    delivery_headers,
    delivery_payload,
    iso_timestamp,
    payload_body,
    retry_after_seconds,
    retry_delay_seconds,
    webhook_id_generate,
)

logger = logging.getLogger(__name__)

RESPONSE_EXCERPT_BYTES = 2048
IN_FLIGHT = "attempt in progress"
TEST_EVENT = "postback.test"


def _attempt_lease() -> timedelta:
    """How long an attempt may run before its row is considered abandoned.

    One attempt takes at most the connect timeout plus the read timeout; the margin
    covers the database writes around it.
    """
    return timedelta(seconds=settings.POSTBACK_ATTEMPT_LEASE)


def _queue_lease() -> timedelta:
    """How long a queued row waits for its worker before the dispatcher queues it again."""
    return timedelta(seconds=settings.POSTBACK_QUEUE_LEASE)


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


# --- 410 Gone --------------------------------------------------------------------------


def postback_url_disabled(*, merchant: Merchant, url: str) -> bool:
    """True when the merchant's last concluded delivery to `url` was answered 410 Gone.

    A 410 means "stop sending here". A resend (staff or API) that succeeds re-enables it.
    """
    latest = (
        PostbackDelivery.objects.filter(payment__merchant=merchant, url=url, attempt_count__gt=0)
        .exclude(status=DeliveryStatus.PENDING)
        .order_by("-updated_at")
        .only("last_status_code")
        .first()
    )
    return latest is not None and latest.last_status_code == 410


# --- outbox ----------------------------------------------------------------------------


def delivery_enqueue(*, payment: Payment, event: str) -> PostbackDelivery | None:
    """Write the outbox row for one payment event; queue its first try after commit.

    Call it inside the transaction that changed the payment, so the postback exists if
    and only if the change does. Returns None when the merchant asked for no postbacks.
    """
    if not payment.wants_postbacks:
        return None
    now = timezone.now()
    delivery = PostbackDelivery(
        payment=payment,
        webhook_id=webhook_id_generate(),
        event=event,
        url=payment.postback_url,
        payload=delivery_payload(payment=payment, event=event),
        next_attempt_at=now,
        claimed_until=now + _queue_lease(),
    )
    if postback_url_disabled(merchant=payment.merchant, url=payment.postback_url):
        delivery.status = DeliveryStatus.FAILED
        delivery.next_attempt_at = None
        delivery.claimed_until = None
        delivery.last_error = "postbacks to this URL are disabled (it answered 410 Gone)"
        delivery.save()
        return delivery
    delivery.save()
    transaction.on_commit(lambda: delivery_queue(delivery_id=delivery.pk))
    return delivery


def delivery_queue(*, delivery_id: int) -> bool:
    """Hand one delivery to a worker; on a broker failure, leave it to the dispatcher."""
    from .tasks import deliver_postback  # tasks import this module

    try:
        deliver_postback.apply_async((delivery_id,), retry=False)
    except Exception as exc:  # the broker is down: the outbox row is still there
        logger.warning(
            "postback %s not queued (%s); the dispatcher will", delivery_id, type(exc).__name__
        )
        PostbackDelivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING).update(
            claimed_until=None
        )
        return False
    return True


def deliveries_claim_due(*, limit: int = 500) -> list[int]:
    """Claim due deliveries for queueing; concurrent dispatchers skip each other's rows."""
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            PostbackDelivery.objects.select_for_update(skip_locked=True)
            .filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lte=now))
            .order_by("next_attempt_at")
            .values_list("pk", flat=True)[:limit]
        )
        if ids:
            PostbackDelivery.objects.filter(pk__in=ids).update(claimed_until=now + _queue_lease())
    return ids


def deliveries_dispatch_due() -> int:
    """Claim due deliveries and queue each; stop at the first broker failure."""
    ids = deliveries_claim_due()
    queued = 0
    for index, delivery_id in enumerate(ids):
        if not delivery_queue(delivery_id=delivery_id):
            PostbackDelivery.objects.filter(pk__in=ids[index:]).update(claimed_until=None)
            break
        queued += 1
    return queued


# --- one attempt -----------------------------------------------------------------------


def _delivery_claim(*, delivery_id: int) -> PostbackDelivery | None:
    """Take a due delivery for one attempt, or return None if it is not ours to send."""
    now = timezone.now()
    with transaction.atomic():
        delivery = (
            PostbackDelivery.objects.select_for_update(of=("self",))
            .select_related("payment__merchant")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None or delivery.status != DeliveryStatus.PENDING:
            return None
        if delivery.next_attempt_at is None or delivery.next_attempt_at > now:
            return None
        if delivery.last_error == IN_FLIGHT:
            # The previous attempt's worker died before it could write its result.
            DeliveryAttempt.objects.create(
                delivery=delivery,
                started_at=delivery.claimed_until - _attempt_lease()
                if delivery.claimed_until
                else now,
                error="interrupted: the worker stopped before the attempt finished",
            )
        lease_end = now + _attempt_lease()
        delivery.attempt_count += 1
        delivery.next_attempt_at = lease_end
        delivery.claimed_until = lease_end
        delivery.last_error = IN_FLIGHT
        delivery.save(
            update_fields=[
                "attempt_count",
                "next_attempt_at",
                "claimed_until",
                "last_error",
                "updated_at",
            ]
        )
    return delivery


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
    try:
        with merchant_session() as session:
            response = session.post(url, data=body.encode(), headers=headers, stream=True)
            try:
                status_code = response.status_code
                chunk = next(response.iter_content(RESPONSE_EXCERPT_BYTES), b"")
                excerpt = chunk[:RESPONSE_EXCERPT_BYTES].decode("utf-8", errors="replace")
                if status_code in (429, 503):
                    retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            finally:
                response.close()
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


def _delivery_record(*, delivery_id: int, result: AttemptResult) -> PostbackDelivery:
    """Keep the attempt and move the delivery on: done, retry later, or give up."""
    with transaction.atomic():
        delivery = (
            PostbackDelivery.objects.select_for_update(of=("self",))
            .select_related("payment__merchant")
            .get(pk=delivery_id)
        )
        DeliveryAttempt.objects.create(
            delivery=delivery,
            started_at=result.started_at,
            duration_ms=result.duration_ms,
            status_code=result.status_code,
            error=result.error,
            response_body=result.response_body,
        )
        now = timezone.now()
        delivery.last_status_code = result.status_code
        delivery.last_error = result.error
        delivery.claimed_until = None
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
            event_record(
                type=EventType.DELIVERY_SUCCEEDED, payment=delivery.payment, payload=event_payload
            )
        else:
            delay = None
            if result.status_code != 410:
                delay = retry_delay_seconds(
                    attempts_made=delivery.attempt_count, retry_after=result.retry_after
                )
            if delay is None:
                delivery.status = DeliveryStatus.FAILED
                delivery.next_attempt_at = None
                event_payload["error"] = result.error
                event_record(
                    type=EventType.DELIVERY_FAILED, payment=delivery.payment, payload=event_payload
                )
            else:
                delivery.next_attempt_at = now + timedelta(seconds=delay)
        delivery.save()
    return delivery


def delivery_attempt(*, delivery_id: int) -> PostbackDelivery | None:
    """Make one try of a due delivery; return it, or None when it was not due or not ours."""
    delivery = _delivery_claim(delivery_id=delivery_id)
    if delivery is None:
        return None
    result = postback_send(
        merchant=delivery.payment.merchant,
        url=delivery.url,
        webhook_id=delivery.webhook_id,
        payload=delivery.payload,
    )
    delivery = _delivery_record(delivery_id=delivery_id, result=result)
    logger.info(
        "postback %s attempt %s: %s",
        delivery.webhook_id,
        delivery.attempt_count,
        result.status_code or result.error,
    )
    return delivery


# --- staff and merchant actions --------------------------------------------------------


def delivery_resend(*, delivery: PostbackDelivery, by: str = "") -> PostbackDelivery:
    """Send a delivery again from a fresh retry schedule, keeping its webhook-id.

    The same id lets a merchant that did get it the first time recognise the repeat.
    Earlier attempts stay in the log.
    """
    now = timezone.now()
    with transaction.atomic():
        delivery = (
            PostbackDelivery.objects.select_for_update(of=("self",))
            .select_related("payment")
            .get(pk=delivery.pk)
        )
        delivery.status = DeliveryStatus.PENDING
        delivery.attempt_count = 0
        delivery.next_attempt_at = now
        delivery.claimed_until = now + _queue_lease()
        delivery.delivered_at = None
        delivery.last_error = ""
        delivery.save()
        event_record(
            type=EventType.DELIVERY_RESENT,
            payment=delivery.payment,
            payload={"webhookId": delivery.webhook_id, "event": delivery.event, "by": by},
        )
        transaction.on_commit(lambda: delivery_queue(delivery_id=delivery.pk))
    return delivery


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


class ResendRefused(ValueError):
    """A resend that cannot happen, with a machine code for the API."""

    def __init__(self, message: str, *, code: str):
        super().__init__(message)
        self.message = message
        self.code = code


FINAL_EVENTS = {
    "succeeded": EventType.PAYMENT_SUCCEEDED,
    "failed": EventType.PAYMENT_FAILED,
    "expired": EventType.PAYMENT_EXPIRED,
}


def payment_postback_resend(*, payment: Payment, by: str = "") -> PostbackDelivery:
    """Resend a payment's latest postback (or create it, for a final payment without one)."""
    if not payment.wants_postbacks:
        raise ResendRefused("The payment has no id or postbackUrl.", code="no_postback_url")
    latest = (
        PostbackDelivery.objects.filter(payment=payment, is_test=False)
        .order_by("-created_at", "-pk")
        .first()
    )
    if latest is not None:
        return delivery_resend(delivery=latest, by=by)
    event = FINAL_EVENTS.get(payment.status)
    if event is None:
        raise ResendRefused("The payment is not final yet: nothing to send.", code="not_final")
    with transaction.atomic():
        delivery = delivery_enqueue(payment=payment, event=event)
    return delivery
