"""Portal forms: filters parsed once (list, CSV and charts agree) and the Developers page."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.http import HttpRequest
from django.utils import timezone
from rest_framework.exceptions import ValidationError as DrfValidationError

from payments.api.inputs import PostbackUrlField
from payments.models import PaymentStatus
from reporting.portal.reauth import password_recheck

MODE_CHOICES = [("live", "Live"), ("test", "Test (sandbox)")]
DASHBOARD_DEFAULT_DAYS = 30
DASHBOARD_MAX_DAYS = 366


class PaymentFilterForm(forms.Form):
    """Filters of `/portal/payments/` and its CSV export (all optional)."""

    q = forms.CharField(required=False, max_length=254, label="Search")
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *PaymentStatus.choices])
    currency = forms.CharField(required=False, max_length=10)
    date_from = forms.DateField(required=False, label="From")
    date_to = forms.DateField(required=False, label="To")
    mode = forms.ChoiceField(required=False, choices=MODE_CHOICES)

    def clean_currency(self) -> str:
        return self.cleaned_data["currency"].strip().upper()

    def clean_q(self) -> str:
        return self.cleaned_data["q"].strip()

    def filters(self) -> dict:
        """Return the cleaned filters, or all-defaults when the query string is invalid."""
        if self.is_valid():
            return dict(self.cleaned_data)
        return {
            "q": "",
            "status": "",
            "currency": "",
            "date_from": None,
            "date_to": None,
            "mode": "",
        }


class DashboardFilterForm(forms.Form):
    """Filters of the dashboard: a bounded date range (so a chart stays one bar per day)."""

    date_from = forms.DateField(required=False, label="From")
    date_to = forms.DateField(required=False, label="To")
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *PaymentStatus.choices])
    mode = forms.ChoiceField(required=False, choices=MODE_CHOICES)

    def clean(self) -> dict:
        data = super().clean()
        today = timezone.localdate()
        date_to = data.get("date_to") or today
        date_from = data.get("date_from") or date_to - dt.timedelta(days=DASHBOARD_DEFAULT_DAYS - 1)
        if date_from > date_to:
            date_from, date_to = date_to, date_from
        if (date_to - date_from).days >= DASHBOARD_MAX_DAYS:
            date_from = date_to - dt.timedelta(days=DASHBOARD_MAX_DAYS - 1)
        data.update(date_from=date_from, date_to=date_to, mode=data.get("mode") or "")
        data["status"] = data.get("status") or ""
        return data

    def filters(self) -> dict:
        if self.is_valid():
            return dict(self.cleaned_data)
        return DashboardFilterForm(data={}).filters()


class TokenCreateForm(forms.Form):
    """Create an API key from the Developers page."""

    mode = forms.ChoiceField(choices=MODE_CHOICES, initial="test", label="Mode")
    label = forms.CharField(
        required=False, max_length=100, label="Label", help_text="e.g. 'shop server'"
    )


class ReauthForm(forms.Form):
    """Ask for the login's password again before a secret is shown or replaced.

    Checked under the login throttle (`password_recheck`): wrong passwords here count with
    the login form's, and a locked-out login cannot re-enter its password either.
    """

    password = forms.CharField(
        label="Your password",
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, *args, request: HttpRequest, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        if not password_recheck(request=self.request, password=password):
            raise forms.ValidationError("That password is not right.", code="wrong_password")
        return password


class PostbackTestForm(forms.Form):
    """The URL a test postback goes to, checked by the same rules as init-payment's."""

    url = forms.CharField(
        label="Postback URL",
        max_length=2048,
        widget=forms.URLInput(attrs={"placeholder": "https://shop.example/postbacks"}),
    )

    def clean_url(self) -> str:
        try:
            return PostbackUrlField().run_validation(self.cleaned_data["url"].strip())
        except DrfValidationError as exc:
            detail = exc.detail if isinstance(exc.detail, list) else [exc.detail]
            raise forms.ValidationError([str(d) for d in detail]) from None
