"""The audit trail in the back office: read-only, never edited or deleted."""

from __future__ import annotations

from django.contrib import admin

from payments.models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ("at", "actor", "action", "target")
    list_filter = ("action",)
    search_fields = ("actor", "target")
    date_hierarchy = "at"
    readonly_fields = ("at", "actor", "action", "target", "changes")
    fields = readonly_fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
