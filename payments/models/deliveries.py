"""Merchant postbacks: one delivery per logical event, one attempt row per HTTP try.

The delivery row is written in the same transaction as the status change (an outbox), and
retries are scheduled here (`next_attempt_at`), not as Celery countdowns.
"""

from __future__ import annotations

import uuid

from django.db import models


class PostbackEvent(models.TextChoices):
    """The `event` of a merchant postback: the names merchants branch on (DESIGN, SDKs)."""

    PAYMENT_SUCCEEDED = "payment.succeeded", "Payment succeeded"
    PAYMENT_FAILED = "payment.failed", "Payment failed"
    PAYMENT_EXPIRED = "payment.expired", "Payment expired"
    PAYMENT_FLAGGED = "payment.flagged", "Payment flagged for review"
    POSTBACK_TEST = "postback.test", "Test postback"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class PostbackDelivery(models.Model):
    """A signed postback to the merchant; `webhook_id` stays the same across retries."""

    payment = models.ForeignKey(
        "payments.Payment", on_delete=models.CASCADE, related_name="deliveries"
    )
    webhook_id = models.CharField(max_length=64, unique=True)
    event = models.CharField(max_length=40)
    url = models.URLField(max_length=2048)
    payload = models.JSONField()
    status = models.CharField(
        max_length=12, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempt_count = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    # The claim whose answer may be recorded (payments/delivery/claim.py): a new token per
    # claim, so a late answer to an older claim of the row goes to the attempt log only.
    claim_token = models.UUIDField(null=True, blank=True)
    # The relay holding that claim (a `DeliveryClaimer`): when it stops heartbeating, or
    # its worker restarts, its claims are given back without waiting out their lease.
    claimed_by = models.UUIDField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "postback deliveries"
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status="pending"),
                name="delivery_due_idx",
            ),
            # Only deliveries last answered 410 Gone (rare): lets every enqueue ask "has
            # this URL said Gone?" without reading the merchant's whole history. Not on
            # `url` itself: a 2,048-character URL can exceed a btree entry's size.
            models.Index(
                fields=["updated_at"],
                condition=models.Q(last_status_code=410),
                name="delivery_gone_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.url} ({self.status})"


class DeliveryAttempt(models.Model):
    """One HTTP try of a delivery: what came back and how long it took."""

    delivery = models.ForeignKey(
        PostbackDelivery, on_delete=models.CASCADE, related_name="attempts"
    )
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    response_body = models.TextField(blank=True, help_text="First 2 KB of the response.")
    stale = models.BooleanField(
        default=False,
        help_text="Answered after its claim was given back or superseded: logged, not applied.",
    )

    class Meta:
        ordering = ["started_at"]

    def __str__(self) -> str:
        return f"{self.status_code or self.error} in {self.duration_ms} ms"


class DeliveryClaimer(models.Model):
    """One running relay (a worker process), so its claims have an owner that can die.

    `name` is the worker's node name, the same across a restart: a relay that starts gives
    back the claims of its earlier instances at once. `heartbeat_at` moves every couple of
    seconds: a relay silent for `POSTBACK_CLAIMER_STALE` is taken for dead and its claims
    are given back to whoever claims next.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200, db_index=True)
    started_at = models.DateTimeField(auto_now_add=True)
    heartbeat_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} ({self.id})"
