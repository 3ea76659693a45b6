"""Delivery health per merchant endpoint: a concurrency cap, failing and disabled endpoints.

One merchant whose endpoint hangs must not hold the relay's senders (64 per worker) and
delay every other merchant's postbacks. So:

- **Cap.** A worker sends up to `POSTBACK_ENDPOINT_CONCURRENCY` attempts to one URL at
  once whatever the other URLs do (`endpoint_slot_take`; the relay takes a slot before it
  hands a postback to a sender, payments/delivery/poller.py). Past it, the relay lends a
  URL senders that are idle, and keeps spare senders so that lent ones never hold the
  other URLs' share. The relay claims no more of a URL than twice the cap, so nothing is
  claimed only to be given back, and the due rows it leaves keep their place.
- **Health.** Each answer is noted in memory by the sender (`endpoint_observe`, no I/O) and
  written by the relay's recorder (`endpoints_flush`), one transaction per flush: a
  `PostbackEndpoint` row per merchant and URL, failing since its first failure after a
  success. The first answer on a URL creates its row.
- **Disabling.** An endpoint that answers 410 Gone, or has been failing for
  `POSTBACK_ENDPOINT_DISABLE_HOURS` (3 days, the retry horizon), is disabled: its pending
  deliveries are held (`next_attempt_at` NULL: kept, claimed by nobody) and new ones are
  stored held too (`delivery_enqueue` asks, in the same query as its 410 check). Re-enabling it
  (`endpoint_enable`, from the portal's Developers page or the admin, audited) makes them
  due now: each is then sent once, as the same delivery with the same `webhook-id`.
- **Alerts** (e-mails to the merchant's portal users) are sent by the portal
  (reporting/portal/alerts.py) from these rows; `endpoints_to_alert` says which.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from payments.audit import audit_record
from payments.delivery.claim import IN_FLIGHT
from payments.models import DeliveryStatus, PostbackDelivery, PostbackEndpoint
from payments.models.endpoints import endpoint_url_hash

logger = logging.getLogger(__name__)

GONE = 410
REASON_GONE = "answered 410 Gone"


# ---- the cap (per worker process) ---------------------------------------------------------

_slots: dict[str, int] = defaultdict(int)
_slots_lock = threading.Lock()


def endpoint_slot_take(url: str, *, lent: bool = False) -> bool:
    """Take one of the URL's sending slots; False when it already has its cap in flight.

    `lent`: a slot past the cap, on a sender the relay lends while it is idle (the relay
    decides when: payments/delivery/poller.py); always granted, counted all the same.
    """
    with _slots_lock:
        if not lent and _slots[url] >= settings.POSTBACK_ENDPOINT_CONCURRENCY:
            return False
        _slots[url] += 1
        return True


def endpoint_slot_give(url: str) -> None:
    with _slots_lock:
        _slots[url] -= 1
        if _slots[url] <= 0:
            del _slots[url]


def endpoint_in_flight(url: str) -> int:
    """Attempts to `url` in flight in this process (tests, /healthz)."""
    with _slots_lock:
        return _slots.get(url, 0)


# ---- what the senders saw, until the recorder writes it -----------------------------------


@dataclass
class _Seen:
    failures: int = 0
    succeeded_at: datetime | None = None
    failed_at: datetime | None = None
    status_code: int | None = None
    error: str = ""
    gone: bool = False


_seen: dict[tuple[int, str], _Seen] = {}
_seen_lock = threading.Lock()


def endpoint_observe(*, merchant_id: int, url: str, result) -> None:
    """Note one attempt's answer (an `AttemptResult`); no I/O, the recorder writes it."""
    now = timezone.now()
    with _seen_lock:
        seen = _seen.setdefault((merchant_id, url), _Seen())
        if result.succeeded:
            # A success ends a failing streak, whatever came before it in this batch.
            seen.failures, seen.gone, seen.succeeded_at = 0, False, now
            return
        seen.failures += 1
        seen.failed_at = now
        seen.status_code, seen.error = result.status_code, (result.error or "")[:500]
        seen.gone = seen.gone or result.status_code == GONE


def endpoints_flush(*, now: datetime | None = None) -> None:
    """Write what the senders saw.

    Called by the relay's recorder after each batch and when idle; never raises (the
    health is advisory: what is not written now is written with the next answers).
    """
    with _seen_lock:
        seen = dict(_seen)
        _seen.clear()
    try:
        if seen:
            endpoints_record(seen=seen, now=now or timezone.now())
    except Exception:
        logger.exception("postback endpoints: recording health failed")


def endpoints_record(*, seen: dict[tuple[int, str], _Seen], now: datetime) -> None:
    """Apply a batch of answers to the endpoints' rows; disable those past the limits."""
    disable_after = timedelta(hours=settings.POSTBACK_ENDPOINT_DISABLE_HOURS)
    with transaction.atomic():
        for (merchant_id, url), s in sorted(seen.items()):
            endpoint, _ = PostbackEndpoint.objects.select_for_update().get_or_create(
                merchant_id=merchant_id, url_hash=endpoint_url_hash(url), defaults={"url": url}
            )
            if s.failures == 0:
                endpoint.failing_since = None
                endpoint.consecutive_failures = 0
                endpoint.failing_alerted_at = None
                endpoint.last_success_at = s.succeeded_at
            else:
                if endpoint.failing_since is None:
                    endpoint.failing_since = s.failed_at
                endpoint.consecutive_failures += s.failures
                endpoint.last_failure_at = s.failed_at
                endpoint.last_status_code, endpoint.last_error = s.status_code, s.error
            if endpoint.disabled_at is None:
                if s.gone:
                    _disable(endpoint, reason=REASON_GONE, now=now)
                elif endpoint.failing_since and now - endpoint.failing_since >= disable_after:
                    hours = settings.POSTBACK_ENDPOINT_DISABLE_HOURS
                    _disable(endpoint, reason=f"failing for {hours:g} hours", now=now)
            endpoint.save()
            if endpoint.disabled_at is not None:
                # Answers of attempts already in flight when it was disabled: held too.
                _deliveries_hold(merchant_id=merchant_id, url=url)


def _disable(endpoint: PostbackEndpoint, *, reason: str, now: datetime) -> None:
    endpoint.disabled_at, endpoint.disabled_reason = now, reason
    endpoint.disabled_alerted_at = None
    audit_record(
        actor="system",
        action="endpoint.disable",
        target=f"merchant-id:{endpoint.merchant_id}",
        changes={"endpoint": endpoint.pk, "reason": reason},
    )
    logger.warning("postback endpoint %s of merchant %s disabled: %s",
                   endpoint.pk, endpoint.merchant_id, reason)  # fmt: skip


def _deliveries_hold(*, merchant_id: int, url: str) -> int:
    """Keep an endpoint's pending deliveries without sending them (not those in flight)."""
    return (
        PostbackDelivery.objects.filter(
            payment__merchant_id=merchant_id, url=url, status=DeliveryStatus.PENDING
        )
        .exclude(last_error=IN_FLIGHT)
        .update(next_attempt_at=None, claimed_until=None, updated_at=timezone.now())
    )


# ---- re-enabling -------------------------------------------------------------------------


@transaction.atomic
def endpoint_enable(*, endpoint: PostbackEndpoint, actor: str) -> int:
    """Re-enable a disabled endpoint and make its held postbacks due now; return how many.

    Each held delivery is the same row it was: the relay sends it once, with its own
    `webhook-id`. Audited as `endpoint.enable`.
    """
    endpoint = PostbackEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    if endpoint.disabled_at is None:
        return 0
    reason = endpoint.disabled_reason
    endpoint.disabled_at, endpoint.disabled_reason = None, ""
    endpoint.failing_since, endpoint.consecutive_failures = None, 0
    endpoint.failing_alerted_at = endpoint.disabled_alerted_at = None
    endpoint.save()
    now = timezone.now()
    released = PostbackDelivery.objects.filter(
        payment__merchant_id=endpoint.merchant_id,
        url=endpoint.url,
        status=DeliveryStatus.PENDING,
        next_attempt_at__isnull=True,
    ).update(next_attempt_at=now, claimed_until=None, updated_at=now)
    audit_record(
        actor=actor,
        action="endpoint.enable",
        target=f"merchant:{endpoint.merchant.slug}",
        changes={"endpoint": endpoint.pk, "was": reason, "released": released},
    )
    return released


# ---- what the alerts and /metrics read ---------------------------------------------------


def endpoints_to_alert(*, now: datetime | None = None) -> dict[str, list[PostbackEndpoint]]:
    """Endpoints owing an e-mail: `disabled` (not yet told) and `failing` (first or digest).

    A failing endpoint is first told after `POSTBACK_ALERT_FAILURES` failures in a row,
    then at most once per `POSTBACK_ALERT_DIGEST_HOURS` while it keeps failing.
    """
    now = now or timezone.now()
    digest = now - timedelta(hours=settings.POSTBACK_ALERT_DIGEST_HOURS)
    base = PostbackEndpoint.objects.select_related("merchant")
    disabled = list(base.filter(disabled_at__isnull=False, disabled_alerted_at__isnull=True))
    failing = list(
        base.filter(
            disabled_at__isnull=True,
            failing_since__isnull=False,
            consecutive_failures__gte=settings.POSTBACK_ALERT_FAILURES,
        ).filter(Q(failing_alerted_at__isnull=True) | Q(failing_alerted_at__lte=digest))
    )
    return {"disabled": disabled, "failing": failing}


def endpoints_mark_alerted(*, kind: str, ids: list[int], now: datetime | None = None) -> None:
    field = "disabled_alerted_at" if kind == "disabled" else "failing_alerted_at"
    PostbackEndpoint.objects.filter(pk__in=ids).update(**{field: now or timezone.now()})


def endpoint_counts() -> dict[str, int]:
    """How many endpoints are failing and disabled (for /metrics: counts, never URLs)."""
    return {
        "failing": PostbackEndpoint.objects.filter(
            disabled_at__isnull=True, failing_since__isnull=False
        ).count(),
        "disabled": PostbackEndpoint.objects.filter(disabled_at__isnull=False).count(),
    }
