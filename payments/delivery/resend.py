"""Sending a postback again, on a staff member's or a merchant's request.

Both the admin and `POST /api/v1/payments/<id>/postbacks/resend` come here. A resend keeps
the delivery's `webhook-id`, so a merchant that did get the first one can drop the repeat.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from payments.audit import event_record
from payments.delivery.outbox import delivery_enqueue, delivery_queue, queue_lease
from payments.models import DeliveryStatus, EventType, Payment, PostbackDelivery
from payments.state import STATUS_EVENT


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
        delivery.claimed_until = now + queue_lease()
        # Any claim still out is over: its answer, if it comes, is only logged.
        delivery.claim_token = delivery.claimed_by = None
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


class ResendRefused(ValueError):
    """A resend that cannot happen, with a machine code for the API."""

    def __init__(self, message: str, *, code: str):
        super().__init__(message)
        self.message = message
        self.code = code


def payment_postback_resend(*, payment: Payment, by: str = "") -> PostbackDelivery:
    """Resend a payment's latest postback (or create it, for a final payment without one)."""
    if not payment.wants_postbacks:
        raise ResendRefused("The payment has no id or postbackUrl.", code="no_postback_url")
    latest = PostbackDelivery.objects.filter(payment=payment).order_by("-created_at", "-pk").first()
    if latest is not None:
        return delivery_resend(delivery=latest, by=by)
    event = STATUS_EVENT.get(payment.status)
    if event is None:
        raise ResendRefused("The payment is not final yet: nothing to send.", code="not_final")
    with transaction.atomic():
        delivery = delivery_enqueue(payment=payment, event=event)
    return delivery
