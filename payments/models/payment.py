"""The payment: one merchant request, its provider invoice, and its status."""

from __future__ import annotations

from django.db import models

from providers.registry import provider_choices


class PaymentStatus(models.TextChoices):
    CREATED = "created", "Created"
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    EXPIRED = "expired", "Expired"
    PROVIDER_ERROR = "provider_error", "Provider error"


class PaymentType(models.TextChoices):
    FIAT = "fiat", "Fiat"
    CRYPTO = "crypto", "Crypto"


class Payment(models.Model):
    """A payment as the merchant asked for it and as the provider billed it."""

    public_id = models.CharField(max_length=64, unique=True, editable=False)
    merchant = models.ForeignKey(
        "payments.Merchant", on_delete=models.PROTECT, related_name="payments"
    )
    token = models.ForeignKey(
        "payments.ApiToken", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    is_test = models.BooleanField(default=False)
    provider = models.CharField(max_length=32, choices=provider_choices())

    # NULL (not "") means "not given": the partial unique constraints below skip NULLs.
    merchant_reference = models.CharField(max_length=128, null=True, blank=True)  # noqa: DJ001
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    # SHA-256 of the normalised request: a replay with other fields is a 409.
    request_fingerprint = models.CharField(max_length=64)
    # A new attempt for the same merchant `id` after a decline, an expiry or a provider
    # error (payments/retries.py): numbered from 1, each pointing at the one it retries.
    # Keyed by public_id, so the API answers the earlier attempt's id without a join.
    attempt = models.PositiveIntegerField(default=1)
    retry_of = models.OneToOneField(
        "self",
        to_field="public_id",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="retried_by",
    )

    customer_email = models.EmailField(max_length=254, blank=True)
    customer_name = models.CharField(max_length=256, blank=True)
    amount = models.DecimalField(max_digits=20, decimal_places=8)
    currency = models.CharField(max_length=10)
    payment_type = models.CharField(max_length=8, choices=PaymentType.choices)
    provider_amount = models.DecimalField(max_digits=20, decimal_places=8, null=True, blank=True)
    provider_currency = models.CharField(max_length=10, blank=True)
    exchange_rate = models.DecimalField(max_digits=24, decimal_places=10, null=True, blank=True)

    success_url = models.URLField(max_length=2048)
    error_url = models.URLField(max_length=2048)
    postback_url = models.URLField(max_length=2048, blank=True)

    provider_reference = models.CharField(max_length=255, blank=True)
    provider_url = models.URLField(max_length=2048, blank=True)
    provider_error_code = models.CharField(max_length=64, blank=True)
    provider_error_message = models.CharField(max_length=500, blank=True)

    status = models.CharField(
        max_length=20, choices=PaymentStatus.choices, default=PaymentStatus.CREATED
    )
    # Set by a verified postback: what the shopper actually paid.
    paid_amount = models.DecimalField(max_digits=20, decimal_places=8, null=True, blank=True)
    paid_currency = models.CharField(max_length=10, blank=True)
    needs_review = models.BooleanField(default=False)
    review_reason = models.CharField(max_length=500, blank=True)

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    finalized_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # One payment per merchant id and attempt: a replay of attempt n collides here.
            models.UniqueConstraint(
                fields=["merchant", "is_test", "merchant_reference", "attempt"],
                condition=models.Q(merchant_reference__isnull=False),
                name="payment_unique_merchant_reference_attempt",
            ),
            models.UniqueConstraint(
                fields=["merchant", "is_test", "idempotency_key"],
                condition=models.Q(idempotency_key__isnull=False),
                name="payment_unique_idempotency_key",
            ),
        ]
        indexes = [
            models.Index(fields=["merchant", "status", "created_at"]),
            # The portal's list and search: one merchant, live or test, newest first.
            models.Index(
                fields=["merchant", "is_test", "created_at"], name="payment_merchant_mode_created"
            ),
            models.Index(fields=["status", "created_at"]),
            models.Index(fields=["provider", "provider_reference"]),
            # The KV sweep (payments/kv.py): payments finalised since its last pass.
            models.Index(fields=["finalized_at"], name="payment_finalized_at"),
        ]

    def __str__(self) -> str:
        return self.public_id

    @property
    def wants_postbacks(self) -> bool:
        """Postbacks go out only when the merchant gave both its id and a postback URL."""
        return bool(self.merchant_reference and self.postback_url)
