"""Admin for the event log: read-only, filterable, with the BigQuery export backlog on top.

Imported by reporting/admin.py so that Django's admin autodiscovery registers it. It lives
with the export because the event log is the export's outbox.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils import timezone

from payments.models import PaymentEvent
from reporting.export.status import export_status


class ExportedFilter(admin.SimpleListFilter):
    title = "exported to BigQuery"
    parameter_name = "exported"

    def lookups(self, request, model_admin):
        return [
            ("yes", "Exported"),
            ("no", "Waiting"),
            ("error", "Waiting, with an error"),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "yes":
            return queryset.filter(exported_at__isnull=False)
        if value == "no":
            return queryset.filter(exported_at__isnull=True)
        if value == "error":
            return queryset.filter(exported_at__isnull=True, export_attempts__gt=0)
        return queryset


def _describe_lag(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


@admin.register(PaymentEvent)
class PaymentEventAdmin(admin.ModelAdmin):
    """The append-only log: staff look, nobody edits (rows are the audit trail)."""

    list_display = (
        "occurred_at",
        "type",
        "payment",
        "merchant",
        "status",
        "provider",
        "exported_at",
        "export_attempts",
    )
    list_filter = ("type", "status", "provider", ExportedFilter, "occurred_at")
    search_fields = ("=id", "payment__public_id", "payment__merchant_reference", "merchant__slug")
    list_select_related = ("payment", "merchant")
    date_hierarchy = "occurred_at"
    ordering = ("-occurred_at",)
    show_full_result_count = False
    readonly_fields = [f.name for f in PaymentEvent._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def changelist_view(self, request, extra_context=None):
        """Show the export backlog and lag above the list, where staff look first."""
        status = export_status(include_exported=True)
        summary = (
            f"BigQuery export {'on' if status['enabled'] else 'off (BIGQUERY_PROJECT unset)'}: "
            f"{status['pending']} waiting ({status['with_errors']} with errors), "
            f"{status['exported']} exported, lag {_describe_lag(status['lag_seconds'])}"
        )
        if status["oldest_pending_at"]:
            summary += f" (oldest waiting since {status['oldest_pending_at']})"
        if status["consecutive_failures"]:
            summary += (
                f"; {status['consecutive_failures']} failed runs in a row, "
                f"last error: {status['last_error']}"
            )
        level = messages.INFO
        if status["enabled"] and (status["consecutive_failures"] or status["lag_seconds"] > 600):
            level = messages.WARNING
        self.message_user(request, summary, level=level)
        extra_context = {**(extra_context or {}), "export_status": status, "now": timezone.now()}
        return super().changelist_view(request, extra_context=extra_context)
