"""Back office for payments (read-only, with their timeline) and exchange rates (history).

Amounts are written with `amount_format`, as everywhere else ("49.50 USD", not
49.50000000). A rate edit goes through `exchange_rate_set`: a new row and an audit entry.
"""

from __future__ import annotations

from django.contrib import admin

from payments.admin.merchants import staff_actor
from payments.currencies import amount_format
from payments.models import ExchangeRate, Payment, PaymentEvent, PostbackDelivery
from payments.rates import exchange_rate_set

# Payment fields shown through a formatting method instead of the raw column.
AMOUNT_DISPLAY = {
    "amount": "amount_display",
    "provider_amount": "provider_amount_display",
    "paid_amount": "paid_amount_display",
}


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
        "amount_display",
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

    def get_fields(self, request, obj=None):
        return [AMOUNT_DISPLAY.get(f.name, f.name) for f in Payment._meta.fields]

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    @admin.display(description="Amount", ordering="amount")
    def amount_display(self, obj: Payment) -> str:
        return f"{amount_format(obj.amount, obj.currency)} {obj.currency}"

    @admin.display(description="Provider amount")
    def provider_amount_display(self, obj: Payment) -> str:
        if obj.provider_amount is None:
            return "—"
        return (
            f"{amount_format(obj.provider_amount, obj.provider_currency)} {obj.provider_currency}"
        )

    @admin.display(description="Paid amount")
    def paid_amount_display(self, obj: Payment) -> str:
        if obj.paid_amount is None:
            return "—"
        currency = obj.paid_currency or obj.currency
        return f"{amount_format(obj.paid_amount, currency)} {currency}"

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
        """Add a new rate through the service; an edit never overwrites the old row."""
        created = exchange_rate_set(
            currency=form.cleaned_data["currency"],
            rate_to_tusd=form.cleaned_data["rate_to_tusd"],
            note=form.cleaned_data.get("note", ""),
            set_by=request.user,
            actor=staff_actor(request),
        )
        obj.pk, obj.currency, obj.created_at = created.pk, created.currency, created.created_at
        obj._state.adding = False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
