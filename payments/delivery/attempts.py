"""One attempt of one merchant postback: claim the row, POST it signed, record the answer.

The claim moves `next_attempt_at` forward by a lease before any network I/O, so a second
task for the same row finds it not due, and a worker killed mid-attempt leaves a row that
falls due again when the lease ends (see payments/delivery/outbox.py).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apaygate.http import InvalidIPAddress, merchant_client, merchant_timeout
from apaygate.instruments import DELIVERIES
from payments.audit import event_record
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
from payments.models import DeliveryAttempt, DeliveryStatus, EventType, Merchant, PostbackDelivery

logger = logging.getLogger(__name__)

RESPONSE_EXCERPT_BYTES = 2048
# A body up to this size is read to its end so the connection can be reused; a longer one
# is cut off and its connection dropped.
RESPONSE_DRAIN_BYTES = 64 * 1024
IN_FLIGHT = "attempt in progress"


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
                started_at=delivery.claimed_until - attempt_lease()
                if delivery.claimed_until
                else now,
                error="interrupted: the worker stopped before the attempt finished",
            )
        lease_end = now + attempt_lease()
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
    DELIVERIES.labels(outcome=_outcome(delivery, result)).inc()
    logger.info(
        "postback %s attempt %s: %s",
        delivery.webhook_id,
        delivery.attempt_count,
        result.status_code or result.error,
    )
    return delivery


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
