"""Claims with an owner: only the claim's own answer is recorded, and a dead owner's
claims are given back without waiting out their lease."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from payments.delivery.claim import (
    claimer_heartbeat,
    claimer_register,
    claims_reclaim_dead,
    deliveries_claim_attempts,
)
from payments.delivery.outbox import delivery_enqueue
from payments.delivery.record import attempts_record
from payments.delivery.send import AttemptResult
from payments.models import DeliveryAttempt, DeliveryClaimer, DeliveryStatus, PostbackDelivery
from tests.factories import MerchantFactory, PaymentFactory

pytestmark = pytest.mark.django_db


def _due_delivery() -> PostbackDelivery:
    with transaction.atomic():
        delivery = delivery_enqueue(
            payment=PaymentFactory(
                merchant=MerchantFactory(),
                postback_url="https://shop.example/pb",
                status="succeeded",
            ),
            event="payment.succeeded",
        )
    PostbackDelivery.objects.filter(pk=delivery.pk).update(claimed_until=None)
    return delivery


def _lease_runs_out(delivery: PostbackDelivery) -> None:
    now = timezone.now()
    PostbackDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=now, claimed_until=now)


def _answer(claimed: PostbackDelivery, status_code: int | None, error: str = "") -> tuple:
    result = AttemptResult(
        webhook_id=claimed.webhook_id,
        started_at=timezone.now(),
        duration_ms=5,
        status_code=status_code,
        error=error,
    )
    return (claimed.pk, claimed.claim_token, result)


def test_a_late_answer_to_an_older_claim_goes_to_the_log_only():
    # given a row claimed, its lease run out (a stalled worker), and claimed again
    delivery = _due_delivery()
    (older,) = deliveries_claim_attempts(limit=1)
    _lease_runs_out(delivery)
    (newer,) = deliveries_claim_attempts(limit=1)
    assert older.claim_token != newer.claim_token

    # when the newer claim's answer (a failure: retry later) is recorded first, and the
    # older claim's answer (a success) arrives last
    attempts_record(results=[_answer(newer, 500, "HTTP 500")])
    attempts_record(results=[_answer(older, 200)])

    # then the row shows the newer attempt's outcome; the older answer is logged as stale
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.last_status_code == 500
    assert delivery.delivered_at is None
    stale = DeliveryAttempt.objects.get(delivery=delivery, status_code=200)
    assert stale.stale is True
    assert DeliveryAttempt.objects.get(delivery=delivery, status_code=500).stale is False


def test_an_older_claim_cannot_record_over_a_newer_claim_still_in_flight():
    # given a row claimed twice (the first claim's lease ran out), the newer still sending
    delivery = _due_delivery()
    (older,) = deliveries_claim_attempts(limit=1)
    _lease_runs_out(delivery)
    (newer,) = deliveries_claim_attempts(limit=1)

    # when the older claim answers
    moved = attempts_record(results=[_answer(older, 200)])

    # then nothing moved: the row still belongs to the newer claim, which records next
    assert moved == []
    delivery.refresh_from_db()
    assert delivery.claim_token == newer.claim_token
    assert delivery.status == DeliveryStatus.PENDING
    assert [d.pk for d in attempts_record(results=[_answer(newer, 200)])] == [delivery.pk]
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED


def test_a_restarted_worker_gives_back_its_earlier_claims_at_once():
    # given a worker's relay that claimed a row, then died (kill -9: no goodbye)
    delivery = _due_delivery()
    before = claimer_register(name="celery@worker-1")
    deliveries_claim_attempts(limit=1, leases=2, claimer=before)

    # when the worker starts again under the same name
    claimer_register(name="celery@worker-1")

    # then the row is due now (not after its lease), its attempt logged as interrupted
    delivery.refresh_from_db()
    assert delivery.next_attempt_at <= timezone.now()
    assert delivery.claim_token is None and delivery.claimed_by is None
    assert DeliveryAttempt.objects.get(delivery=delivery).error.startswith("interrupted")
    assert not DeliveryClaimer.objects.filter(pk=before).exists()
    assert deliveries_claim_attempts(limit=1)[0].pk == delivery.pk


def test_a_silent_relays_claims_are_given_back_and_a_live_ones_are_kept(settings):
    # given two relays, each holding one claim; one stops heartbeating
    settings.POSTBACK_CLAIMER_STALE = 10
    silent_row, live_row = _due_delivery(), _due_delivery()
    silent = claimer_register(name="celery@a")
    live = claimer_register(name="celery@b")
    deliveries_claim_attempts(ids=[silent_row.pk], limit=1, claimer=silent)
    deliveries_claim_attempts(ids=[live_row.pk], limit=1, claimer=live)
    DeliveryClaimer.objects.filter(pk=silent).update(
        heartbeat_at=timezone.now() - timedelta(seconds=11)
    )
    claimer_heartbeat(claimer=live, name="celery@b")

    # when any relay looks for dead ones
    given = claims_reclaim_dead()

    # then only the silent relay's row is due again
    assert given == 1
    silent_row.refresh_from_db()
    live_row.refresh_from_db()
    assert silent_row.claimed_by is None and silent_row.next_attempt_at <= timezone.now()
    assert live_row.claimed_by == live and live_row.next_attempt_at > timezone.now()


def test_a_relay_taken_for_dead_registers_again_on_its_next_heartbeat():
    claimer = claimer_register(name="celery@slow")
    DeliveryClaimer.objects.filter(pk=claimer).delete()

    claimer_heartbeat(claimer=claimer, name="celery@slow")

    assert DeliveryClaimer.objects.filter(pk=claimer, name="celery@slow").exists()
