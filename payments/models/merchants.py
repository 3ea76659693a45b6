"""Merchants and their API tokens."""

from __future__ import annotations

from django.db import models

from providers.registry import provider_choices


class Merchant(models.Model):
    """A shop or casino that takes payments through the gateway."""

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    # The first provider of `routing` (or the only one when `routing` is empty).
    provider = models.CharField(max_length=32, choices=provider_choices())
    # Ordered routes, `[{"provider", "currencies"?, "types"?, "min_amount"?, "max_amount"?}]`,
    # written only by `payments.merchants.merchant_routing_set` (payments/routing.py).
    routing = models.JSONField(default=list, blank=True)
    is_active = models.BooleanField(default=True)
    # Standard Webhooks signing secret (`whsec_<base64>`), shown to the merchant once.
    postback_secret = models.CharField(max_length=128)
    # During a rotation both secrets sign every postback until this one is retired.
    previous_postback_secret = models.CharField(max_length=128, blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    # Optional extra guard: success/error URLs must be on one of these hosts.
    allowed_return_hosts = models.TextField(
        blank=True, help_text="One host per line. Empty: any public host."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"

    @property
    def return_hosts(self) -> list[str]:
        return [h.strip().lower() for h in self.allowed_return_hosts.split() if h.strip()]


class TokenMode(models.TextChoices):
    LIVE = "live", "Live"
    TEST = "test", "Test (sandbox)"


class ApiToken(models.Model):
    """A merchant API key. Only its SHA-256 digest is stored; the key is shown once."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="tokens")
    label = models.CharField(max_length=100, blank=True)
    mode = models.CharField(max_length=8, choices=TokenMode.choices, default=TokenMode.LIVE)
    prefix = models.CharField(max_length=32, help_text="First characters, for recognition.")
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["prefix"])]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.get_mode_display()})"

    @property
    def is_test(self) -> bool:
        return self.mode == TokenMode.TEST
