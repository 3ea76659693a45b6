"""The portal's Developers page: API keys, the postback signing secret, test postbacks.

As merchants know it from Stripe: create a test or live key (shown once), revoke one, see
when each was last used; reveal the signing secret after typing the password again, or
rotate it with an overlap; send a test postback and read the answer; see the latest
postbacks with every attempt. Every action calls the same service as the admin and the
CLI (`payments.merchants`), which writes the audit trail. Pages that carry a key or a
secret are answered `Cache-Control: no-store` and never redirect (the key is not kept
anywhere it could be shown again).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from payments.delivery.health import endpoint_enable
from payments.merchants import (
    MerchantError,
    api_token_issue,
    api_token_revoke,
    merchant_postback_secret_reveal,
    merchant_postback_test_send,
    merchant_rotate_postback_secret,
)
from payments.models import Merchant
from reporting.portal.base import portal_context, portal_mode, portal_view
from reporting.portal.forms import PostbackTestForm, ReauthForm, TokenCreateForm
from reporting.portal.selectors import (
    developer_endpoints,
    developer_last_postback_url,
    developer_recent_deliveries,
    developer_tokens,
)

ROTATION_OVERLAP_HOURS = 24
ENDPOINTS_SHOWN = 50


def portal_actor(request: HttpRequest) -> str:
    """Name the portal login for the audit trail: an id, never the e-mail address."""
    return f"portal:user-{request.user.pk}"


def _render(request: HttpRequest, merchant: Merchant, status: int = 200, **extra) -> HttpResponse:
    mode = portal_mode(request, merchant)
    context = portal_context(
        request,
        merchant,
        mode=mode,
        section="developers",
        tokens=developer_tokens(merchant=merchant),
        deliveries=developer_recent_deliveries(merchant=merchant, mode=mode),
        endpoints=developer_endpoints(merchant=merchant)[:ENDPOINTS_SHOWN],
        disable_hours=settings.POSTBACK_ENDPOINT_DISABLE_HOURS,
        rotation_overlap_hours=ROTATION_OVERLAP_HOURS,
        **{
            "token_form": TokenCreateForm(initial={"mode": mode}),
            "reveal_form": ReauthForm(request=request, prefix="reveal"),
            "rotate_form": ReauthForm(request=request, prefix="rotate"),
            "test_form": PostbackTestForm(
                initial={"url": developer_last_postback_url(merchant=merchant)}
            ),
            **extra,
        },
    )
    response = render(request, "portal/developers.html", context, status=status)
    response["Cache-Control"] = "no-store"
    return response


@never_cache
@portal_view
def developers(request: HttpRequest, merchant: Merchant) -> HttpResponse:
    """Show keys, the secret (masked), the test-postback form and recent deliveries."""
    return _render(request, merchant)


@require_POST
@portal_view
def token_create(request: HttpRequest, merchant: Merchant) -> HttpResponse:
    """Create a key and show it once, in this answer only."""
    form = TokenCreateForm(data=request.POST)
    if not form.is_valid():
        return _render(request, merchant, status=400, token_form=form)
    try:
        token, key = api_token_issue(
            merchant=merchant,
            mode=form.cleaned_data["mode"],
            label=form.cleaned_data["label"] or "portal",
            actor=portal_actor(request),
        )
    except MerchantError as exc:  # a live key for a merchant on the sandbox
        form.add_error(None, str(exc))
        return _render(request, merchant, status=400, token_form=form)
    return _render(request, merchant, new_token=token, new_key=key)


@require_POST
@portal_view
def token_revoke(request: HttpRequest, merchant: Merchant, token_id: int) -> HttpResponse:
    """Revoke one of this merchant's keys (another merchant's is a 404)."""
    token = developer_tokens(merchant=merchant).filter(pk=token_id).first()
    if token is None:
        raise Http404("no such key")
    api_token_revoke(token=token, actor=portal_actor(request))
    messages.success(request, f"Key {token.prefix}… revoked: requests with it now get a 401.")
    return redirect("portal:developers")


@require_POST
@portal_view
def secret_reveal(request: HttpRequest, merchant: Merchant) -> HttpResponse:
    """Show the signing secret once the password has been typed again."""
    form = ReauthForm(data=request.POST, request=request, prefix="reveal")
    if not form.is_valid():
        return _render(request, merchant, status=403, reveal_form=form)
    secret = merchant_postback_secret_reveal(merchant=merchant, actor=portal_actor(request))
    return _render(request, merchant, revealed_secret=secret)


@require_POST
@portal_view
def secret_rotate(request: HttpRequest, merchant: Merchant) -> HttpResponse:
    """Replace the signing secret; the old one keeps signing during the overlap."""
    form = ReauthForm(data=request.POST, request=request, prefix="rotate")
    if not form.is_valid():
        return _render(request, merchant, status=403, rotate_form=form)
    secret = merchant_rotate_postback_secret(
        merchant=merchant, overlap_hours=ROTATION_OVERLAP_HOURS, actor=portal_actor(request)
    )
    merchant.refresh_from_db()
    return _render(request, merchant, revealed_secret=secret, rotated=True)


@require_POST
@portal_view
def postback_test(request: HttpRequest, merchant: Merchant) -> HttpResponse:
    """Send a signed test postback now and show the merchant's answer."""
    form = PostbackTestForm(data=request.POST)
    if not form.is_valid():
        return _render(request, merchant, status=400, test_form=form)
    result = merchant_postback_test_send(
        merchant=merchant, url=form.cleaned_data["url"], actor=portal_actor(request)
    )
    return _render(request, merchant, test_form=form, test_result=result)


@require_POST
@portal_view
def endpoint_enable_view(
    request: HttpRequest, merchant: Merchant, endpoint_id: int
) -> HttpResponse:
    """Re-enable a disabled postback endpoint; its held postbacks are then sent, once each."""
    endpoint = developer_endpoints(merchant=merchant).filter(pk=endpoint_id).first()
    if endpoint is None:
        raise Http404("no such endpoint")
    released = endpoint_enable(endpoint=endpoint, actor=portal_actor(request))
    messages.success(
        request, f"Endpoint re-enabled: {released} held postback{'s' if released != 1 else ''} "
        "will be sent now."
    )  # fmt: skip
    return redirect("portal:developers")
