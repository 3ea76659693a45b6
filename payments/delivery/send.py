"""Sending one postback: a signed POST through the guarded client, and what came back.

No database here: the relay's sender threads call `postback_send` without a connection
(payments/delivery/poller.py), and everything it needs travels on the claimed row.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime

import requests
from django.conf import settings
from django.utils import timezone

from foundation.http import InvalidIPAddress, merchant_client, merchant_timeout
from payments.delivery.listen import postback_publish
from payments.delivery.wire import (
    TEST_EVENT,
    delivery_headers,
    iso_timestamp,
    payload_body,
    retry_after_seconds,
    webhook_id_generate,
)
from payments.models import Merchant, PostbackDelivery

logger = logging.getLogger(__name__)

RESPONSE_EXCERPT_BYTES = 2048
# A body up to this size is read to its end so the connection can be reused; a longer one
# is cut off and its connection dropped.
RESPONSE_DRAIN_BYTES = 64 * 1024


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


def postback_send(
    *, merchant: Merchant, url: str, webhook_id: str, payload: dict, test: bool = False
) -> AttemptResult:
    """POST one signed postback and report what happened; never raises for HTTP trouble.

    `test`: the payment is a test-mode one, so `apaygate listen` gets a copy first.
    """
    body = payload_body(payload)
    started = timezone.now()
    headers = delivery_headers(merchant=merchant, webhook_id=webhook_id, body=body, at=started)
    if test:  # the one publish hook (payments/delivery/listen.py); live is never streamed
        postback_publish(merchant_id=merchant.pk, payload=payload, headers=headers, body=body)
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


def delivery_post(delivery: PostbackDelivery) -> AttemptResult:
    """POST a claimed delivery (its payment's merchant signs it; a test payment's is also
    streamed to `apaygate listen`): the relay's senders and a single attempt both send so."""
    return postback_send(
        merchant=delivery.payment.merchant,
        url=delivery.url,
        webhook_id=delivery.webhook_id,
        payload=delivery.payload,
        test=delivery.payment.is_test,
    )


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
