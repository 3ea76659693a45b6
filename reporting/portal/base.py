"""What every portal page shares: who is looking, and at which merchant."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect
from django.urls import reverse

from payments.models import Merchant
from reporting.portal.selectors import (
    merchant_has_live_payments,
    portal_endpoint_trouble,
    portal_merchant_for_user,
    portal_user_is_gateway_staff,
)

SESSION_MERCHANT_KEY = "portal_merchant_id"
MODES = ("live", "test")


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


def portal_mode(request: HttpRequest, merchant: Merchant) -> str:
    """Return which data the portal shows, "live" or "test", and remember the choice.

    `?mode=` switches (and is kept per merchant in the session); without a choice the
    portal opens on test data until the merchant has a live payment, so a merchant who
    has only tried the sandbox sees their payments instead of an empty live dashboard.
    """
    key = f"portal_mode_{merchant.pk}"
    requested = request.GET.get("mode", "")
    if requested in MODES:
        request.session[key] = requested
        return requested
    saved = request.session.get(key)
    if saved in MODES:
        return saved
    return "live" if merchant_has_live_payments(merchant=merchant) else "test"


def portal_query(query: QueryDict | dict, **changes) -> str:
    """Return `query` as a query string with `changes` applied (for the live/test switch)."""
    params = QueryDict(mutable=True)
    params.update(query)
    params.pop("page", None)
    for name, value in changes.items():
        params[name] = value
    return params.urlencode()


def portal_context(
    request: HttpRequest, merchant: Merchant, *, switch_path: str = "", **extra
) -> dict:
    """Return the template context every portal page needs (merchant, switcher, mode).

    The live/test switch reloads the page with `?mode=`; a page that shows one payment
    passes `switch_path` (the list) instead, since switching cannot change that payment.
    """
    is_staff = portal_user_is_gateway_staff(user=request.user)
    mode = extra.pop("mode", None) or portal_mode(request, merchant)
    query = {} if switch_path else request.GET
    return {
        "merchant": merchant,
        "mode": mode,
        "switch_path": switch_path,
        "live_query": portal_query(query, mode="live"),
        "test_query": portal_query(query, mode="test"),
        "is_gateway_staff": is_staff,
        # The banner about failing or disabled postback endpoints (one small query).
        "endpoint_trouble": portal_endpoint_trouble(merchant=merchant),
        "switch_merchants": (
            Merchant.objects.only("id", "slug", "name").order_by("slug") if is_staff else []
        ),
        **extra,
    }
