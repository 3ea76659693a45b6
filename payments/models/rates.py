"""Exchange rates to TUSD, kept as history: the newest row per currency is in force."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ExchangeRate(models.Model):
    """How many TUSD one unit of `currency` buys, as set by staff at `created_at`."""

    currency = models.CharField(max_length=10, db_index=True)
    rate_to_tusd = models.DecimalField(max_digits=24, decimal_places=10)
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["currency", "-created_at"]
        constraints = [
            models.CheckConstraint(condition=models.Q(rate_to_tusd__gt=0), name="rate_positive")
        ]

    def __str__(self) -> str:
        return f"1 {self.currency} = {self.rate_to_tusd} TUSD"
