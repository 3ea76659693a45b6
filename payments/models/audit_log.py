"""Who changed what in the back office: tokens, secrets, merchants, exchange rates."""

from __future__ import annotations

from django.db import models


class AuditEntry(models.Model):
    """One staff, merchant or CLI action on a sensitive object; never edited or deleted.

    `changes` holds field names with their old and new values, never a secret or a token:
    a secret's reveal or rotation is recorded as the action alone.
    """

    actor = models.CharField(max_length=150, help_text="staff:<login>, portal:user-<id> or cli")
    action = models.CharField(max_length=64, db_index=True)
    target = models.CharField(max_length=200, help_text="What was acted on, e.g. merchant:acme")
    changes = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = "audit entry"
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor} {self.action} {self.target}"
