"""Portal pages: login and account, the dashboard, and the staff merchant switcher."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_http_methods

from payments.models import Merchant, PaymentStatus
from reporting.metabase import metabase_embed_url
from reporting.portal import charts
from reporting.portal.base import (
    SESSION_MERCHANT_KEY,
    portal_context,
    portal_login_required,
    portal_mode,
    portal_view,
)
from reporting.portal.forms import DashboardFilterForm
from reporting.portal.reauth import ThrottledPasswordChangeMixin
from reporting.portal.selectors import (
    dashboard_stats,
    merchant_has_payments,
    portal_user_is_gateway_staff,
)

login = auth_views.LoginView.as_view(
    template_name="portal/login.html",
    redirect_authenticated_user=True,
    next_page=reverse_lazy("portal:dashboard"),
)
logout = auth_views.LogoutView.as_view(next_page=reverse_lazy("portal:login"))


class PasswordChangeView(ThrottledPasswordChangeMixin, auth_views.PasswordChangeView):
    """Django's view, with the old password checked under the login throttle."""

    template_name = "portal/password_change.html"
    success_url = reverse_lazy("portal:password_change_done")


password_change = portal_login_required(PasswordChangeView.as_view())
password_change_done = portal_login_required(
    auth_views.PasswordChangeDoneView.as_view(template_name="portal/password_change_done.html")
)
# The invite link is Django's password-reset confirmation: one use, bound to the password.
invite = auth_views.PasswordResetConfirmView.as_view(
    template_name="portal/invite.html",
    post_reset_login=True,
    success_url=reverse_lazy("portal:dashboard"),
)


@portal_view
def dashboard(request: HttpRequest, merchant: Merchant) -> HttpResponse:
    """Show the native charts, and the Metabase embed under them when configured."""
    form = DashboardFilterForm(data=request.GET or None)
    filters = form.filters() if request.GET else DashboardFilterForm(data={}).filters()
    filters["mode"] = mode = portal_mode(request, merchant)
    stats = dashboard_stats(merchant=merchant, **filters)
    # An empty range of a merchant who has payments asks for another range; no payments
    # at all in this mode asks for the first one (a key, then init-payment).
    has_payments = stats.created_all > 0 or merchant_has_payments(merchant=merchant, mode=mode)
    context = portal_context(
        request,
        merchant,
        mode=mode,
        section="dashboard",
        form=form,
        filters=filters,
        stats=stats,
        has_payments=has_payments,
        status_choices=PaymentStatus.choices,
        **charts.dashboard_charts(stats),
        embed_url=metabase_embed_url(merchant=merchant, mode=mode),
    )
    return render(request, "portal/dashboard.html", context)


@portal_login_required
@require_http_methods(["GET", "POST"])
def switch_merchant(request: HttpRequest) -> HttpResponse:
    """Let gateway staff choose whose portal they are looking at."""
    if not portal_user_is_gateway_staff(user=request.user):
        raise PermissionDenied("only gateway staff can switch merchants")
    if request.method == "POST":
        merchant = get_object_or_404(Merchant, slug=request.POST.get("merchant", ""))
        request.session[SESSION_MERCHANT_KEY] = merchant.pk
        messages.info(request, f"Viewing the portal of {merchant.name}.")
        return redirect("portal:dashboard")
    merchants = Merchant.objects.order_by("slug")
    return render(request, "portal/switch.html", {"merchants": merchants, "is_gateway_staff": True})
