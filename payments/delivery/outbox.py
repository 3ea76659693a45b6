"""Merchant postbacks: the signed, retried, logged delivery of payment events (us -> merchant).

Nothing is lost: a `PostbackDelivery` row is written in the same transaction as the status
change (an outbox), and its schedule lives in the database (`next_attempt_at`), never in a
Celery countdown. Two paths lead to an attempt, and either alone is enough:
- right after commit the row is queued to a worker (fast path);
- due rows are claimed with `SELECT … FOR UPDATE SKIP LOCKED` (safety net: a lost message,
  Redis down, a worker killed mid-attempt). Each worker's relay (payments/delivery/poller.py)
  claims them every second with `deliveries_claim_attempts` (payments/delivery/attempts.py)
  and attempts them itself, with no broker involved; beat's dispatcher claims them every
  couple of seconds with `deliveries_claim_due()` here and queues them.

An attempt claims its row under a lock and moves `next_attempt_at` forward by a lease
before any network I/O; a second task for the same row then finds it not due and does
nothing, and a worker killed mid-attempt leaves a row that falls due again when the lease
ends. Merchants may therefore (rarely) see one event twice: `webhook-id` is stable across
retries so they can drop the repeat, as Standard Webhooks asks of them.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from payments.delivery.wire import delivery_payload, webhook_id_generate
from payments.models import DeliveryStatus, Merchant, Payment, PostbackDelivery, PostbackEndpoint
from payments.models.endpoints import endpoint_url_hash
from payments.task_names import DELIVER_POSTBACK, DELIVER_POSTBACKS

logger = logging.getLogger(__name__)

# The dispatcher queues due rows this many to a message: one broker hop per batch.
DISPATCH_BATCH = 100


def attempt_lease() -> timedelta:
    """How long an attempt may run before its row is considered abandoned.

    One attempt takes at most the connect timeout plus the read timeout; the margin
    covers the database writes around it.
    """
    return timedelta(seconds=settings.POSTBACK_ATTEMPT_LEASE)


def queue_lease() -> timedelta:
    """How long a queued row waits for its worker before the dispatcher queues it again."""
    return timedelta(seconds=settings.POSTBACK_QUEUE_LEASE)


# --- 410 Gone --------------------------------------------------------------------------


def postback_url_disabled(*, merchant: Merchant, url: str) -> bool:
    """True when the merchant's last concluded delivery to `url` was answered 410 Gone.

    A 410 means "stop sending here". A resend (staff or API) that succeeds re-enables it.
    Asked at every enqueue, inside the provider's postback request: the first query only
    looks for any 410 to this URL (the small `delivery_gone_idx`), which is the end of it
    for nearly every merchant; only then is the latest concluded delivery looked up.
    """
    deliveries = PostbackDelivery.objects.filter(payment__merchant=merchant, url=url)
    if not deliveries.filter(last_status_code=410).exists():
        return False
    return _latest_concluded_is_gone(merchant=merchant, url=url)


def _latest_concluded_is_gone(*, merchant: Merchant, url: str) -> bool:
    latest = (
        PostbackDelivery.objects.filter(payment__merchant=merchant, url=url, attempt_count__gt=0)
        .exclude(status=DeliveryStatus.PENDING)
        .order_by("-updated_at")
        .only("last_status_code")
        .first()
    )
    return latest is not None and latest.last_status_code == 410


def _endpoint_checks(*, merchant: Merchant, url: str) -> tuple[bool, bool]:
    """(held, gone) for a new postback to `url`, in one query.

    held: its endpoint is disabled (payments/delivery/health.py), so the postback is kept
    without a due time; gone: some delivery to it was answered 410 (see
    `postback_url_disabled`, whose first question this is).
    """
    held = PostbackEndpoint.objects.filter(
        merchant_id=OuterRef("pk"), url_hash=endpoint_url_hash(url), disabled_at__isnull=False
    )
    gone = PostbackDelivery.objects.filter(
        payment__merchant_id=OuterRef("pk"), url=url, last_status_code=410
    )
    row = Merchant.objects.filter(pk=merchant.pk).values_list(Exists(held), Exists(gone)).first()
    return (bool(row[0]), bool(row[1])) if row else (False, False)


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
        claimed_until=now + queue_lease(),
    )
    held, gone = _endpoint_checks(merchant=payment.merchant, url=payment.postback_url)
    if held:
        # Its endpoint is disabled: kept, sent once it is re-enabled (delivery/health.py).
        delivery.next_attempt_at = delivery.claimed_until = None
        delivery.save()
        return delivery
    if gone and _latest_concluded_is_gone(merchant=payment.merchant, url=payment.postback_url):
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
    """Hand one delivery to a worker; on a broker failure, leave it to the dispatcher.

    The task is named, not imported: the tasks module imports this one, and the outbox in
    PostgreSQL, not the broker, is what guarantees the postback is sent.
    """
    try:
        current_app.send_task(DELIVER_POSTBACK, args=(delivery_id,), retry=False)
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
            PostbackDelivery.objects.filter(pk__in=ids).update(claimed_until=now + queue_lease())
    return ids


def deliveries_dispatch_due() -> int:
    """Claim due deliveries and queue them in batches; stop at the first broker failure."""
    ids = deliveries_claim_due()
    queued = 0
    for start in range(0, len(ids), DISPATCH_BATCH):
        batch = ids[start : start + DISPATCH_BATCH]
        try:
            current_app.send_task(DELIVER_POSTBACKS, args=(batch,), retry=False)
        except Exception as exc:  # the broker is down: the outbox rows are still there
            logger.warning("postbacks not queued (%s); retrying later", type(exc).__name__)
            PostbackDelivery.objects.filter(pk__in=ids[start:]).update(claimed_until=None)
            break
        queued += len(batch)
    return queued
