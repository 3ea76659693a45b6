"""What every portal page shares: who is looking, and at which merchant."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from payments.models import Merchant
from reporting.portal.selectors import portal_merchant_for_user, portal_user_is_gateway_staff

SESSION_MERCHANT_KEY = "portal_merchant_id"


def portal_login_required(view: Callable) -> Callable:
    """Send anonymous visitors to the portal's own login, not the admin's."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), login_url=reverse("portal:login"))
        return view(request, *args, **kwargs)

    return wrapper


def portal_view(view: Callable) -> Callable:
    """Resolve the merchant for this login and pass it to the view; nobody else's, ever.

    Merchant users get their own merchant whatever the request says. Gateway staff get
    the one they picked in the switcher (kept in the session), or the picker.
    """

    @portal_login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        merchant = portal_merchant_for_user(
            user=request.user, selected_merchant_id=request.session.get(SESSION_MERCHANT_KEY)
        )
        if merchant is None:
            if portal_user_is_gateway_staff(user=request.user):
                return redirect("portal:switch")
            raise PermissionDenied("this login has no merchant portal")
        return view(request, merchant, *args, **kwargs)

    return wrapper


def portal_context(request: HttpRequest, merchant: Merchant, **extra) -> dict:
    """Return the template context every portal page needs (merchant, switcher)."""
    is_staff = portal_user_is_gateway_staff(user=request.user)
    return {
        "merchant": merchant,
        "is_gateway_staff": is_staff,
        "switch_merchants": (
            Merchant.objects.only("id", "slug", "name").order_by("slug") if is_staff else []
        ),
        **extra,
    }
