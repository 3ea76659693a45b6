"""Back office: merchants with their tokens, payments with their timeline, exchange rates.

Admin actions call services; amounts and references are read-only here.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils import timezone
from django.utils.html import format_html

from payments.merchants import api_token_issue, api_token_revoke, merchant_rotate_postback_secret
from payments.models import (
    ApiToken,
    ExchangeRate,
    Merchant,
    Payment,
    PaymentEvent,
    PostbackDelivery,
)


class ApiTokenInline(admin.TabularInline):
    model = ApiToken
    extra = 0
    fields = ("prefix", "label", "mode", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "mode", "created_at", "last_used_at", "revoked_at")
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # tokens are issued with the merchant actions, which show the key once


@admin.register(Merchant)
class MerchantAdmin(admin.ModelAdmin):
    list_display = ("slug", "name", "provider", "is_active", "created_at")
    list_filter = ("provider", "is_active")
    search_fields = ("slug", "name")
    readonly_fields = (
        "postback_secret_hint",
        "previous_secret_expires_at",
        "created_at",
        "updated_at",
    )
    exclude = ("postback_secret", "previous_postback_secret")
    inlines = [ApiTokenInline]
    actions = ["issue_live_token", "issue_test_token", "rotate_postback_secret"]

    @admin.display(description="Postback secret")
    def postback_secret_hint(self, obj: Merchant) -> str:
        if not obj.pk:
            return "Generated when the merchant is saved."
        return f"{obj.postback_secret[:10]}… (full value: rotate to issue a new one)"

    def save_model(self, request, obj, form, change):
        if not change and not obj.postback_secret:
            from payments.tokens import postback_secret_generate

            obj.postback_secret = postback_secret_generate()
        super().save_model(request, obj, form, change)

    def _issue(self, request, queryset, mode: str) -> None:
        for merchant in queryset:
            _token, key = api_token_issue(
                merchant=merchant, mode=mode, label=f"admin: {request.user}"
            )
            self.message_user(
                request,
                format_html(
                    "New {} token for <b>{}</b> (shown once, copy it now): <code>{}</code>",
                    mode,
                    merchant.slug,
                    key,
                ),
                messages.WARNING,
            )

    @admin.action(description="Issue a live API token (shown once)")
    def issue_live_token(self, request, queryset):
        self._issue(request, queryset, "live")

    @admin.action(description="Issue a test API token (sandbox; shown once)")
    def issue_test_token(self, request, queryset):
        self._issue(request, queryset, "test")

    @admin.action(description="Rotate postback secret (old one signs too for 24 h)")
    def rotate_postback_secret(self, request, queryset):
        for merchant in queryset:
            secret = merchant_rotate_postback_secret(merchant=merchant)
            self.message_user(
                request,
                format_html(
                    "New postback secret for <b>{}</b> (shown once): <code>{}</code>",
                    merchant.slug,
                    secret,
                ),
                messages.WARNING,
            )


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = (
        "prefix",
        "merchant",
        "mode",
        "label",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
    list_filter = ("mode", ("revoked_at", admin.EmptyFieldListFilter), "merchant")
    search_fields = ("prefix", "label", "merchant__slug")
    readonly_fields = ("merchant", "prefix", "mode", "created_at", "last_used_at", "revoked_at")
    fields = ("merchant", "prefix", "mode", "label", "created_at", "last_used_at", "revoked_at")
    actions = ["revoke"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request, queryset):
        for token in queryset:
            api_token_revoke(token=token)
        self.message_user(request, f"Revoked {queryset.count()} token(s).")


class PaymentEventInline(admin.TabularInline):
    model = PaymentEvent
    fk_name = "payment"
    extra = 0
    can_delete = False
    fields = ("occurred_at", "type", "status", "payload")
    readonly_fields = fields
    ordering = ("occurred_at",)

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class PostbackDeliveryInline(admin.TabularInline):
    model = PostbackDelivery
    extra = 0
    can_delete = False
    fields = (
        "event",
        "status",
        "attempt_count",
        "last_status_code",
        "next_attempt_at",
        "delivered_at",
    )
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    list_display = (
        "public_id",
        "merchant",
        "merchant_reference",
        "status",
        "amount",
        "currency",
        "provider",
        "is_test",
        "needs_review",
        "created_at",
    )
    list_filter = ("status", "provider", "is_test", "needs_review", "merchant", "created_at")
    search_fields = ("public_id", "merchant_reference", "provider_reference")
    date_hierarchy = "created_at"
    list_select_related = ("merchant",)
    inlines = [PaymentEventInline, PostbackDeliveryInline]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Payment._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ExchangeRate)
class ExchangeRateAdmin(admin.ModelAdmin):
    """Rates are history: saving always adds a new row, the newest one is in force."""

    list_display = ("currency", "rate_to_tusd", "set_by", "note", "created_at", "in_force")
    list_filter = ("currency",)
    fields = ("currency", "rate_to_tusd", "note")

    @admin.display(boolean=True, description="In force")
    def in_force(self, obj: ExchangeRate) -> bool:
        newest = (
            ExchangeRate.objects.filter(currency=obj.currency)
            .order_by("-created_at", "-pk")
            .first()
        )
        return newest is not None and newest.pk == obj.pk

    def save_model(self, request, obj, form, change):
        if change:
            obj.pk = None  # an edit is a new rate; the old one stays as history
        obj.currency = obj.currency.upper()
        obj.set_by = request.user
        obj.created_at = timezone.now()
        super().save_model(request, obj, form, change)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
