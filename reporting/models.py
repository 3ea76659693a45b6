"""Merchant portal accounts: a Django user tied to exactly one merchant."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class PortalMembership(models.Model):
    """Give one user the portal of one merchant, and nothing else.

    A separate row rather than a field on the user keeps `auth.User` stock, and the
    one-to-one makes "which merchant is this login?" a single, unambiguous lookup.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="portal_membership"
    )
    merchant = models.ForeignKey(
        "payments.Merchant", on_delete=models.CASCADE, related_name="portal_memberships"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["merchant__slug", "user__email"]
        verbose_name = "portal user"

    def __str__(self) -> str:
        return f"{self.user.get_username()} → {self.merchant.slug}"
