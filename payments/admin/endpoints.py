"""Admin for merchants' postback endpoints: their health, and re-enabling a disabled one.

Staff see the same state as the merchant's portal (failing since, last answer, disabled
and why); "Re-enable" calls the same service as the portal's button, which audits it and
makes the endpoint's held postbacks due now.
"""

from __future__ import annotations

from django.contrib import admin, messages

from payments.admin.merchants import staff_actor
from payments.delivery.health import endpoint_enable
from payments.models import PostbackEndpoint


@admin.register(PostbackEndpoint)
class PostbackEndpointAdmin(admin.ModelAdmin):
    list_display = (
        "merchant",
        "url",
        "state",
        "failing_since",
        "consecutive_failures",
        "last_status_code",
        "disabled_at",
        "disabled_reason",
    )
    list_filter = (
        ("disabled_at", admin.EmptyFieldListFilter),
        ("failing_since", admin.EmptyFieldListFilter),
    )
    search_fields = ("merchant__slug", "url")
    list_select_related = ("merchant",)
    readonly_fields = [f.name for f in PostbackEndpoint._meta.fields]
    actions = ["reenable"]

    def has_add_permission(self, request) -> bool:
        return False  # made by the relay from the answers it gets

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="State")
    def state(self, obj: PostbackEndpoint) -> str:
        return obj.state

    @admin.action(description="Re-enable and send held postbacks", permissions=["change"])
    def reenable(self, request, queryset):
        released = sum(
            endpoint_enable(endpoint=endpoint, actor=staff_actor(request))
            for endpoint in queryset.filter(disabled_at__isnull=False)
        )
        self.message_user(request, f"Re-enabled; {released} held postback(s) due now.",
                          messages.SUCCESS)  # fmt: skip
