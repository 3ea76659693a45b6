"""Back office for merchants and their API tokens.

Thin by design: creating or editing a merchant, issuing or revoking a token and rotating
the postback secret all call the services in `payments.merchants`, which audit them. A new
token is shown once, on its own page, from a button on the merchant's change page.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from payments.merchants import (
    MERCHANT_EDITABLE_FIELDS,
    api_token_issue,
    api_token_revoke,
    merchant_create,
    merchant_rotate_postback_secret,
    merchant_routing_set,
    merchant_update,
)
from payments.models import ApiToken, Merchant, TokenMode
from payments.routing import RoutingError, merchant_routes, routes_parse

ROUTING_HELP = (
    "One provider per line, in order of preference: the first healthy one that matches "
    "takes the payment. Optional rules after the name: currency=EUR,USD type=fiat|crypto "
    "amount=10..5000 (either end may be left out). Empty: the provider above takes everything."
)


class MerchantForm(forms.ModelForm):
    """The merchant form, with its routing written one route per line (payments/routing.py)."""

    routing_rules = forms.CharField(
        label="Routing", required=False, widget=forms.Textarea(attrs={"rows": 4}),
        help_text=ROUTING_HELP,
    )  # fmt: skip

    class Meta:
        model = Merchant
        fields = ("slug", "name", "provider", "is_active", "allowed_return_hosts")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and self.instance.routing:
            lines = [r.as_line() for r in merchant_routes(self.instance)]
            self.fields["routing_rules"].initial = "\n".join(lines)

    def clean(self):
        data = super().clean()
        text = (data.get("routing_rules") or "").strip()
        if text:
            try:
                routes = routes_parse(text.splitlines())
            except RoutingError as exc:
                self.add_error("routing_rules", str(exc))
                return data
            data["provider"] = routes[0].provider
            data["routes"] = [r.as_line() for r in routes]
        elif data.get("provider"):
            data["routes"] = [data["provider"]]
        return data


def staff_actor(request: HttpRequest) -> str:
    """Name the logged-in staff member for the audit trail."""
    return f"staff:{request.user.get_username()}"


class ApiTokenInline(admin.TabularInline):
    model = ApiToken
    extra = 0
    fields = ("prefix", "label", "mode", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "mode", "created_at", "last_used_at", "revoked_at")
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # tokens come from the "Issue token" buttons, which show the key once


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
    form = MerchantForm
    inlines = [ApiTokenInline]
    actions = ["issue_live_token", "issue_test_token", "rotate_postback_secret"]
    change_form_template = "admin/payments/merchant/change_form.html"

    def get_readonly_fields(self, request, obj=None):
        # The slug is in every token's audit trail and the portal's URLs: fixed once created.
        return (*self.readonly_fields, "slug") if obj else self.readonly_fields

    @admin.display(description="Postback secret")
    def postback_secret_hint(self, obj: Merchant) -> str:
        if not obj.pk:
            return "Generated when the merchant is saved."
        return f"{obj.postback_secret[:10]}… (full value: rotate to issue a new one)"

    def save_model(self, request, obj, form, change):
        """Hand the form's values to the services; the secret is generated there."""
        if change:
            changes = {
                f: form.cleaned_data[f]
                for f in form.changed_data
                if f in MERCHANT_EDITABLE_FIELDS and f != "provider"
            }
            updated = merchant_update(merchant=obj, changes=changes, actor=staff_actor(request))
            if {"provider", "routing_rules"} & set(form.changed_data):
                updated = merchant_routing_set(
                    merchant=updated, routes=form.cleaned_data["routes"], actor=staff_actor(request)
                )
            obj.updated_at = updated.updated_at
            return
        created = merchant_create(
            slug=form.cleaned_data["slug"],
            name=form.cleaned_data["name"],
            routes=form.cleaned_data["routes"],
            actor=staff_actor(request),
            is_active=form.cleaned_data.get("is_active", True),
            allowed_return_hosts=form.cleaned_data.get("allowed_return_hosts", ""),
        )
        obj.pk = created.pk
        obj.postback_secret = created.postback_secret
        obj.created_at, obj.updated_at = created.created_at, created.updated_at
        obj._state.adding = False

    def get_urls(self):
        issue = self.admin_site.admin_view(require_POST(self.issue_token_view))
        return [
            path("<int:pk>/issue-token/", issue, name="payments_merchant_issue_token"),
            *super().get_urls(),
        ]

    def issue_token_view(self, request, pk: int):
        """Issue one token from the merchant's page and show its key once, on this page only."""
        merchant = self.get_object(request, str(pk))
        if merchant is None:
            return HttpResponseRedirect(reverse("admin:payments_merchant_changelist"))
        if not self.has_change_permission(request, merchant):
            raise PermissionDenied
        mode = request.POST.get("mode", TokenMode.LIVE)
        if mode not in TokenMode.values:
            messages.error(request, "Choose live or test.")
            return HttpResponseRedirect(reverse("admin:payments_merchant_change", args=[pk]))
        token, key = api_token_issue(
            merchant=merchant,
            mode=mode,
            label=request.POST.get("label", "").strip() or f"admin: {request.user}",
            actor=staff_actor(request),
        )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": merchant,
            "token": token,
            "key": key,
            "title": f"New {token.get_mode_display().lower()} token for {merchant.name}",
        }
        response = render(request, "admin/payments/merchant/token_issued.html", context)
        response["Cache-Control"] = "no-store"
        return response

    def _issue(self, request, queryset, mode: str) -> None:
        for merchant in queryset:
            _token, key = api_token_issue(
                merchant=merchant,
                mode=mode,
                label=f"admin: {request.user}",
                actor=staff_actor(request),
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

    @admin.action(description="Issue a live API token (shown once)", permissions=["change"])
    def issue_live_token(self, request, queryset):
        self._issue(request, queryset, "live")

    @admin.action(
        description="Issue a test API token (sandbox; shown once)", permissions=["change"]
    )
    def issue_test_token(self, request, queryset):
        self._issue(request, queryset, "test")

    @admin.action(
        description="Rotate postback secret (old one signs too for 24 h)", permissions=["change"]
    )
    def rotate_postback_secret(self, request, queryset):
        for merchant in queryset:
            secret = merchant_rotate_postback_secret(merchant=merchant, actor=staff_actor(request))
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
    list_select_related = ("merchant",)
    actions = ["revoke"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Revoke selected tokens", permissions=["change"])
    def revoke(self, request, queryset):
        count = 0
        for token in queryset.select_related("merchant"):
            api_token_revoke(token=token, actor=staff_actor(request))
            count += 1
        self.message_user(request, f"Revoked {count} token(s).")
