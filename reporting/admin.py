"""Admin for portal users: staff create merchant logins and invite them or set a password."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages

from payments.models import Merchant
from reporting.export import admin as export_admin  # noqa: F401  (registers the event log)
from reporting.models import PortalMembership
from reporting.portal.users import (
    PortalUserError,
    portal_invite_send,
    portal_invite_send_on_commit,
    portal_user_create,
)


class PortalUserAddForm(forms.ModelForm):
    """Create the Django user and its membership in one step (the service does both)."""

    email = forms.EmailField(help_text="The login. Lower-cased.")
    password = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Leave empty to send an invite link by e-mail instead.",
    )

    class Meta:
        model = PortalMembership
        fields = ["merchant"]

    def save(self, commit: bool = True) -> PortalMembership:
        # The admin calls save(commit=False) and then save_model(); create exactly once.
        if getattr(self, "_membership", None) is None:
            try:
                self._membership = portal_user_create(
                    merchant=self.cleaned_data["merchant"],
                    email=self.cleaned_data["email"],
                    password=self.cleaned_data.get("password") or None,
                )
            except PortalUserError as exc:
                raise forms.ValidationError(str(exc)) from None
        self.instance = self._membership
        return self._membership

    def _post_clean(self) -> None:
        super()._post_clean()
        email = (self.cleaned_data.get("email") or "").strip().lower()
        from django.contrib.auth import get_user_model

        if email and get_user_model().objects.filter(username=email).exists():
            self.add_error("email", "A user with this e-mail already exists.")
        password = self.cleaned_data.get("password")
        if password:
            from django.contrib.auth.password_validation import validate_password

            try:
                validate_password(password)
            except forms.ValidationError as exc:
                self.add_error("password", exc)

    def save_m2m(self) -> None:  # the admin calls it after save(commit=False)
        return None


@admin.register(PortalMembership)
class PortalMembershipAdmin(admin.ModelAdmin):
    list_display = ["user_email", "merchant", "last_login", "has_password", "created_at"]
    list_filter = ["merchant"]
    search_fields = ["user__email", "merchant__slug", "merchant__name"]
    list_select_related = ["user", "merchant"]
    readonly_fields = ["user", "created_at"]
    actions = ["send_invite"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = PortalUserAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["merchant", "email", "password"]
        return ["user", "merchant", "created_at"]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "merchant":
            kwargs["queryset"] = Merchant.objects.order_by("slug")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        membership = form.save()
        if not form.cleaned_data.get("password"):
            portal_invite_send_on_commit(user=membership.user)
            messages.info(request, f"Invite e-mailed to {membership.user.email}.")

    @admin.display(description="E-mail", ordering="user__email")
    def user_email(self, obj: PortalMembership) -> str:
        return obj.user.email

    @admin.display(description="Last login", ordering="user__last_login")
    def last_login(self, obj: PortalMembership):
        return obj.user.last_login

    @admin.display(description="Password set", boolean=True)
    def has_password(self, obj: PortalMembership) -> bool:
        return obj.user.has_usable_password()

    @admin.action(description="E-mail an invite link to set a password")
    def send_invite(self, request, queryset) -> None:
        for membership in queryset.select_related("user"):
            portal_invite_send(user=membership.user)
        self.message_user(request, f"Sent {queryset.count()} invite(s).", messages.SUCCESS)
