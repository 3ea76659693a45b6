"""Claiming due postbacks: who may send a row now, and who may record its answer.

A claim moves a due row's `next_attempt_at` forward by a lease before any network I/O, so
nobody else sends it meanwhile, and stamps it with a fresh `claim_token` and the claiming
relay (`claimed_by`, a `DeliveryClaimer`). Only an answer carrying the row's current token
is recorded (payments/delivery/record.py): a late answer to an older claim (a worker that
stalled past its lease, or whose claims were given back) goes to the attempt log only.

A claim ends in one of four ways: its answer is recorded; it is given back unsent
(`deliveries_release`: a relay stopping); its relay is found dead (`claims_reclaim_dead`:
no heartbeat for `POSTBACK_CLAIMER_STALE`, or a new instance of the same worker started),
which makes the row due at once; or, failing all of those, its lease runs out. Claiming and
releasing are a handful of statements whatever the batch size. The relay claims within each
URL's room (`deliveries_claim_within`): rows past it are left as they were, their place in
the schedule kept.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from payments.delivery.outbox import attempt_lease
from payments.models import DeliveryAttempt, DeliveryClaimer, DeliveryStatus, PostbackDelivery

logger = logging.getLogger(__name__)

# `last_error` while a claim is out: what the admin and the API show for a row in flight.
IN_FLIGHT = "attempt in progress"
INTERRUPTED = "interrupted: the worker stopped before the attempt finished"

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
    "claim_token",
    "claimed_by",
    "last_error",
    "updated_at",
    "payment__is_test",  # a test postback is copied to `apaygate listen` (send.py)
    "payment__merchant__postback_secret",
    "payment__merchant__previous_postback_secret",
    "payment__merchant__previous_secret_expires_at",
)


def _interrupted(deliveries: Sequence[PostbackDelivery]) -> list[DeliveryAttempt]:
    """The log lines for rows whose earlier claim never came back with an answer."""
    return [
        # The claim that started it is the row's last write (its `updated_at`).
        DeliveryAttempt(delivery=delivery, started_at=delivery.updated_at, error=INTERRUPTED)
        for delivery in deliveries
        if delivery.claim_token is not None
    ]


@dataclass(frozen=True)
class EndpointRoom:
    """How many more claims each URL may take: `per_url` less the ones `held` already.

    URLs with less room than `least` are left out of the claim altogether.
    """

    per_url: int
    held: Mapping[str, int] = field(default_factory=dict)
    least: int = 1

    def left(self, url: str) -> int:
        return self.per_url - self.held.get(url, 0)

    def short(self) -> list[str]:
        """The URLs this claim leaves out: too little room."""
        return [url for url in self.held if self.left(url) < self.least]


@dataclass(frozen=True)
class Claimed:
    """What a relay's claim took, and what it saw but left where it was."""

    deliveries: list[PostbackDelivery]
    seen: int  # due rows locked (taken or left): `limit` means more may be due
    left_behind: frozenset[str]  # URLs with due rows left for lack of room


def deliveries_claim_attempts(
    *,
    limit: int,
    ids: Sequence[int] | None = None,
    leases: int = 1,
    claimer: uuid.UUID | None = None,
) -> list[PostbackDelivery]:
    """Take up to `limit` due deliveries for one attempt each, in one transaction.

    With `ids`, only those rows (a task was queued for them, so their queue lease is theirs
    to take); without, any due row that no dispatcher has queued. Rows another claimer has
    locked are skipped, never waited for. Each row gets this claim's token, and its
    `next_attempt_at` moves to the end of an attempt lease before any network I/O. A caller
    that may queue a row behind another attempt asks for `leases` attempts' worth; a relay
    passes its `claimer` id so its claims can be given back when it dies.
    Two statements whatever the batch size: one SELECT … FOR UPDATE SKIP LOCKED, one UPDATE
    (plus an INSERT when an earlier claim was interrupted).
    """
    return _claim(limit=limit, ids=ids, leases=leases, claimer=claimer).deliveries


def deliveries_claim_within(
    *,
    limit: int,
    room: EndpointRoom,
    ids: Sequence[int] | None = None,
    leases: int = 1,
    claimer: uuid.UUID | None = None,
) -> Claimed:
    """Like `deliveries_claim_attempts`, taking no more rows of a URL than its `room`.

    The relay's claim (payments/delivery/poller.py): a row it could not send for its
    endpoint's cap would only be given back. URLs short of room are left out of the query;
    rows past a URL's room are locked and left as they were, so they keep their place in
    the schedule (their lock ends with the transaction).
    """
    return _claim(limit=limit, ids=ids, leases=leases, claimer=claimer, room=room)


def _claim(
    *,
    limit: int,
    ids: Sequence[int] | None,
    leases: int,
    claimer: uuid.UUID | None,
    room: EndpointRoom | None = None,
) -> Claimed:
    now = timezone.now()
    lease_end = now + attempt_lease() * leases
    token = uuid.uuid4()
    due = PostbackDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
    if ids is not None:
        due = due.filter(pk__in=ids)
    else:
        due = due.filter(Q(claimed_until__isnull=True) | Q(claimed_until__lte=now))
    # A scan leaves out the URLs short of room (else a hanging endpoint's backlog at the
    # head of the schedule would fill every claim); wanted ids are few, and each is kept.
    short = room.short() if room is not None and ids is None else []
    if short:
        due = due.exclude(url__in=short)
    with transaction.atomic():
        locked = list(
            due.select_for_update(skip_locked=True, of=("self",))
            .select_related("payment__merchant")
            .only(*CLAIM_READS)
            .order_by("next_attempt_at")[:limit]
        )
        deliveries, left = _within(locked, room) if room is not None else (locked, [])
        if left and ids is not None:
            # Wanted rows left for lack of room: their queue lease dropped so the relay's
            # next scan takes them (their place in the schedule unchanged).
            PostbackDelivery.objects.filter(pk__in=[d.pk for d in left]).update(claimed_until=None)
        if deliveries:
            # A row still carrying a token: the previous claim's worker died before it
            # could write its answer, and its lease ran out. The log says so.
            interrupted = _interrupted(deliveries)
            if interrupted:
                DeliveryAttempt.objects.bulk_create(interrupted)
            PostbackDelivery.objects.filter(pk__in=[d.pk for d in deliveries]).update(
                attempt_count=F("attempt_count") + 1,
                next_attempt_at=lease_end,
                claimed_until=lease_end,
                claim_token=token,
                claimed_by=claimer,
                last_error=IN_FLIGHT,
                updated_at=now,
            )
    for delivery in deliveries:
        delivery.attempt_count += 1
        delivery.next_attempt_at = delivery.claimed_until = lease_end
        delivery.claim_token, delivery.claimed_by = token, claimer
        delivery.last_error = IN_FLIGHT
        delivery.updated_at = now
    left_behind = frozenset({d.url for d in left} | set(short))
    return Claimed(deliveries, seen=len(locked), left_behind=left_behind)


def _within(
    locked: list[PostbackDelivery], room: EndpointRoom
) -> tuple[list[PostbackDelivery], list[PostbackDelivery]]:
    """The rows each URL has room for, oldest first; and the rows left for lack of it."""
    taken: dict[str, int] = defaultdict(int)
    kept, left = [], []
    for delivery in locked:
        if taken[delivery.url] < room.left(delivery.url):
            taken[delivery.url] += 1
            kept.append(delivery)
        else:
            left.append(delivery)
    return kept, left


def _given_back(now) -> dict:
    """The fields of a row whose claim is over without an answer: due now, unowned."""
    return {
        "next_attempt_at": now,
        "claimed_until": None,
        "claim_token": None,
        "claimed_by": None,
        "last_error": "",
        "updated_at": now,
    }


def deliveries_release(*, claims: Sequence[tuple[int, uuid.UUID]]) -> int:
    """Give back claimed deliveries that were never sent: due now, the claim's count undone.

    `claims` pairs each row with the token it was claimed under: a row claimed again since
    (by anyone) is not ours to give back.
    """
    if not claims:
        return 0
    now = timezone.now()
    # Tokens are unique per claim: a row matching both lists is one of these claims.
    return PostbackDelivery.objects.filter(
        pk__in={delivery_id for delivery_id, _token in claims},
        claim_token__in={token for _delivery_id, token in claims},
        status=DeliveryStatus.PENDING,
    ).update(attempt_count=F("attempt_count") - 1, **_given_back(now))


def deliveries_abandon(*, claims: Sequence[tuple[int, uuid.UUID]]) -> int:
    """Give back claimed deliveries whose attempt may have gone out but has no answer yet.

    A stopping relay that cannot wait any longer: the rows are due now (another worker
    sends them again; `webhook-id` lets the merchant drop a repeat), the attempt is logged
    as interrupted (not counted toward the back-off), and its answer, if it comes, is stale.
    """
    if not claims:
        return 0
    now = timezone.now()
    with transaction.atomic():
        held = list(
            PostbackDelivery.objects.select_for_update(of=("self",))
            .filter(
                pk__in={delivery_id for delivery_id, _token in claims},
                claim_token__in={token for _delivery_id, token in claims},
                status=DeliveryStatus.PENDING,
            )
            .only("pk", "claim_token", "updated_at")
            .order_by("pk")
        )
        return _give_back(held, now=now)


def _give_back(held: list[PostbackDelivery], *, now) -> int:
    """Make these locked rows due now, their interrupted attempts logged."""
    if held:
        # The attempt may have reached the merchant: it is logged. It does not move the row
        # down the back-off schedule: the failure was ours, not the merchant's (a worker
        # killed mid-attempt would otherwise cost each of its rows a retry 5 minutes later).
        DeliveryAttempt.objects.bulk_create(_interrupted(held))
        PostbackDelivery.objects.filter(pk__in=[d.pk for d in held]).update(
            attempt_count=F("attempt_count") - 1, **_given_back(now)
        )
    return len(held)


# --- claimers: the relays that own claims ------------------------------------------------


def claimer_register(*, name: str) -> uuid.UUID:
    """Record a starting relay and give back, at once, what its earlier instances held.

    A worker restarted after a crash (same node name) would otherwise leave its claims to
    their leases: a row claimed just before the crash waited two attempts' time.
    """
    now = timezone.now()
    claimer = DeliveryClaimer.objects.create(name=name, heartbeat_at=now)
    earlier = list(
        DeliveryClaimer.objects.filter(name=name)
        .exclude(pk=claimer.pk)
        .values_list("pk", flat=True)
    )
    if earlier:
        given = _reclaim(earlier, now=now)
        logger.info("postback relay %s: gave back %s claims of its earlier run", name, given)
    return claimer.pk


def claimer_heartbeat(*, claimer: uuid.UUID, name: str) -> None:
    """Say this relay is alive (re-registering it if it had been taken for dead)."""
    now = timezone.now()
    if not DeliveryClaimer.objects.filter(pk=claimer).update(heartbeat_at=now):
        DeliveryClaimer.objects.create(pk=claimer, name=name, heartbeat_at=now)


def claimer_retire(*, claimer: uuid.UUID) -> None:
    """Forget a relay that stopped cleanly (it gave back what it held first)."""
    DeliveryClaimer.objects.filter(pk=claimer).delete()


def claims_reclaim_dead(*, now=None) -> int:
    """Give back the claims of relays silent for `POSTBACK_CLAIMER_STALE`; return how many.

    One small query when every relay is alive (the usual case).
    """
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.POSTBACK_CLAIMER_STALE)
    dead = list(
        DeliveryClaimer.objects.filter(heartbeat_at__lt=cutoff).values_list("pk", flat=True)
    )
    if not dead:
        return 0
    given = _reclaim(dead, now=now)
    logger.warning(
        "postback relay: %s silent relays; gave back %s of their claims", len(dead), given
    )
    return given


def _reclaim(claimers: list[uuid.UUID], *, now) -> int:
    """Make the rows these relays hold due now (their attempts logged as interrupted)."""
    with transaction.atomic():
        held = list(
            PostbackDelivery.objects.select_for_update(of=("self",))
            .filter(status=DeliveryStatus.PENDING, claimed_by__in=claimers)
            .only("pk", "claim_token", "updated_at")
            .order_by("pk")
        )
        given = _give_back(held, now=now)
        DeliveryClaimer.objects.filter(pk__in=claimers).delete()
    return given
