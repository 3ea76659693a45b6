"""The append-only event log: the audit trail, and the BigQuery export outbox."""

from __future__ import annotations

import uuid

from django.db import models


class EventType(models.TextChoices):
    PAYMENT_CREATED = "payment.created", "Payment created"
    INVOICE_CREATED = "provider.invoice_created", "Provider invoice created"
    PROVIDER_ERROR = "provider.error", "Provider error"
    PROVIDER_ATTEMPT = "provider.attempt", "Provider tried (routing)"
    SHOPPER_REDIRECTED = "shopper.redirected", "Shopper sent to provider"
    SHOPPER_RETURNED_SUCCESS = "shopper.returned_success", "Shopper returned (success)"
    SHOPPER_RETURNED_ERROR = "shopper.returned_error", "Shopper returned (error)"
    POSTBACK_RECEIVED = "postback.received", "Provider postback received"
    POSTBACK_REJECTED = "postback.rejected", "Provider postback rejected"
    POSTBACK_DUPLICATE = "postback.duplicate", "Provider postback duplicate"
    POSTBACK_CONFLICT = "postback.conflict", "Late conflicting postback (flagged)"
    PAYMENT_SUCCEEDED = "payment.succeeded", "Payment succeeded"
    PAYMENT_FAILED = "payment.failed", "Payment failed"
    PAYMENT_EXPIRED = "payment.expired", "Payment expired"
    PAYMENT_FLAGGED = "payment.flagged", "Payment flagged for review"
    DELIVERY_SUCCEEDED = "delivery.succeeded", "Merchant postback delivered"
    DELIVERY_FAILED = "delivery.failed", "Merchant postback failed for good"
    DELIVERY_RESENT = "delivery.resent", "Merchant postback resent"


class PaymentEvent(models.Model):
    """One step in a payment's life. Rows are never updated except for export bookkeeping."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    payment = models.ForeignKey(
        "payments.Payment", on_delete=models.CASCADE, null=True, blank=True, related_name="events"
    )
    # Kept apart from `payment` for events that belong to no payment (a rejected postback).
    merchant = models.ForeignKey(
        "payments.Merchant", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    type = models.CharField(max_length=40, choices=EventType.choices)
    status = models.CharField(max_length=20, blank=True, help_text="Payment status after it.")
    provider = models.CharField(max_length=32, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    occurred_at = models.DateTimeField(auto_now_add=True, db_index=True)

    # BigQuery export bookkeeping (reporting/export/client.py).
    exported_at = models.DateTimeField(null=True, blank=True)
    export_attempts = models.PositiveIntegerField(default=0)
    export_error = models.TextField(blank=True)
    # Set while an exporter sends this event: others skip it until the lease ends, so a
    # crashed exporter only delays the event (see reporting/export/services.py).
    export_claimed_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["occurred_at"]
        indexes = [
            models.Index(
                fields=["occurred_at"],
                condition=models.Q(exported_at__isnull=True),
                name="event_unexported_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} @ {self.occurred_at:%Y-%m-%d %H:%M:%S}"
