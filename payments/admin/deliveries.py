"""Admin for merchant postbacks: every delivery with its attempts, and resend actions.

Staff read here why a merchant did not get a postback (status codes, errors, the first
2 KB of each answer) and resend one or many; the actions call the delivery service, so
a resend from here is the same as one through the API.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.urls import path, reverse

from payments.delivery.resend import delivery_resend
from payments.models import DeliveryAttempt, PostbackDelivery


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    fields = ("started_at", "status_code", "duration_ms", "error", "stale", "response_body")
    readonly_fields = fields
    ordering = ("-started_at",)

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(PostbackDelivery)
class PostbackDeliveryAdmin(admin.ModelAdmin):
    list_display = (
        "webhook_id",
        "event",
        "payment",
        "status",
        "attempt_count",
        "last_status_code",
        "next_attempt_at",
        "delivered_at",
        "created_at",
    )
    list_filter = ("status", "event")
    search_fields = ("webhook_id", "payment__public_id", "payment__merchant_reference", "url")
    list_select_related = ("payment",)
    date_hierarchy = "created_at"
    inlines = [DeliveryAttemptInline]
    actions = ["resend_selected"]
    readonly_fields = [f.name for f in PostbackDelivery._meta.fields]
    change_form_template = "admin/payments/postbackdelivery/change_form.html"

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_urls(self):
        resend = self.admin_site.admin_view(self.resend_one)
        return [
            path("<int:pk>/resend/", resend, name="payments_postbackdelivery_resend"),
            *super().get_urls(),
        ]

    def resend_one(self, request, pk: int):
        """Resend one delivery (a POST from its change page)."""
        delivery = self.get_object(request, str(pk))
        change_url = reverse("admin:payments_postbackdelivery_change", args=[pk])
        if delivery is None or request.method != "POST":
            return HttpResponseRedirect(change_url)
        if not self.has_change_permission(request, delivery):
            messages.error(request, "You may not resend postbacks.")
            return HttpResponseRedirect(change_url)
        delivery_resend(delivery=delivery, by=f"staff:{request.user.get_username()}")
        messages.success(request, f"Postback {delivery.webhook_id} queued again.")
        return HttpResponseRedirect(change_url)

    @admin.action(description="Resend selected postbacks", permissions=["change"])
    def resend_selected(self, request, queryset):
        count = 0
        for delivery in queryset:
            delivery_resend(delivery=delivery, by=f"staff:{request.user.get_username()}")
            count += 1
        messages.success(request, f"{count} postback(s) queued again.")
