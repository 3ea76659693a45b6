"""A merchant's postback endpoint (one URL) and its health (payments/delivery/health.py)."""

from __future__ import annotations

import hashlib

from django.db import models


def endpoint_url_hash(url: str) -> str:
    """The key an endpoint is found by: SHA-256 of its URL."""
    return hashlib.sha256(url.encode()).hexdigest()


class EndpointState(models.TextChoices):
    HEALTHY = "healthy", "Healthy"
    FAILING = "failing", "Failing"
    DISABLED = "disabled", "Disabled"


class PostbackEndpoint(models.Model):
    """One postback URL of one merchant: is it answering, since when not, is it disabled.

    Written by the relay's recorder from the answers it gets; `disabled_at` holds the
    endpoint's pending deliveries (kept, not sent) until the merchant or staff re-enable it.
    The alert fields say which e-mails went out, so each is sent once (the digest daily).
    """

    merchant = models.ForeignKey(
        "payments.Merchant", on_delete=models.CASCADE, related_name="postback_endpoints"
    )
    url = models.URLField(max_length=2048)
    # SHA-256 of the URL: the unique key (a 2,048-character URL can exceed a btree entry).
    url_hash = models.CharField(max_length=64, editable=False)
    failing_since = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=200, blank=True)
    # E-mails: the last "keeps failing" alert (or digest), and the "disabled" notice.
    failing_alerted_at = models.DateTimeField(null=True, blank=True)
    disabled_alerted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["merchant__slug", "url"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "url_hash"], name="endpoint_unique_url")
        ]
        indexes = [
            models.Index(
                fields=["failing_since"],
                condition=models.Q(failing_since__isnull=False),
                name="endpoint_failing_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.merchant_id}: {self.url} ({self.state})"

    @property
    def state(self) -> str:
        if self.disabled_at:
            return EndpointState.DISABLED
        if self.failing_since:
            return EndpointState.FAILING
        return EndpointState.HEALTHY
