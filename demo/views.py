"""The demo shop at /demo/: a tiny merchant, so a newcomer sees the whole journey.

It behaves like a real merchant would: its server calls `POST /api/v1/init-payment` over
HTTP with its (test) token, sends the shopper to the returned URL, and verifies the
signed postbacks it receives with the `standardwebhooks` library. It keeps what it
received in the cache, as a stand-in for the shop's own database. Only served while the
sandbox is on.
"""

from __future__ import annotations

import logging
import secrets
from functools import wraps

import requests
from django.conf import settings
from django.core.cache import cache
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST
from standardwebhooks import Webhook, WebhookVerificationError

from foundation.http import provider_session
from payments.models import Merchant

logger = logging.getLogger(__name__)

DEMO_PRODUCT = {"name": "Golden ticket", "amount": "25.00", "currency": "USD"}
POSTBACK_KEEP_SECONDS = 24 * 3600


def sandbox_only(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not settings.SANDBOX_ENABLED:
            raise Http404("The demo shop is only available while the sandbox is on.")
        return view(request, *args, **kwargs)

    return wrapper


def _received_key(order: str) -> str:
    return f"demo:postbacks:{order}"


@sandbox_only
@require_GET
def shop(request):
    return render(
        request,
        "demo/shop.html",
        {"product": DEMO_PRODUCT, "configured": bool(settings.DEMO_API_TOKEN)},
    )


@sandbox_only
@require_POST
def buy(request):
    order = "demo-" + secrets.token_hex(6)
    base = settings.PUBLIC_BASE_URL
    body = {
        "id": order,
        "customerEmail": "shopper@example.com",
        "customerName": "Demo Shopper",
        "amount": DEMO_PRODUCT["amount"],
        "currency": DEMO_PRODUCT["currency"],
        "successUrl": f"{base}/demo/success?order={order}",
        "errorUrl": f"{base}/demo/error?order={order}",
        "postbackUrl": f"{base}/demo/postback",
    }
    headers = {"Authorization": f"Token {settings.DEMO_API_TOKEN}"}
    try:
        with provider_session() as session:
            response = session.post(f"{base}/api/v1/init-payment", json=body, headers=headers)
        answer = response.json()
    except (requests.RequestException, ValueError) as exc:
        logger.warning("demo shop could not reach the API: %s", type(exc).__name__)
        return render(
            request, "demo/result.html", {"outcome": "api-error", "detail": str(exc)}, status=502
        )
    if response.status_code not in (200, 201):
        return render(
            request, "demo/result.html", {"outcome": "api-error", "detail": answer}, status=502
        )
    return HttpResponseRedirect(answer["url"])


def _result(request, outcome: str):
    order = request.GET.get("order", "")[:64]
    received = cache.get(_received_key(order), []) if order else []
    context = {"outcome": outcome, "order": order, "received": received}
    return render(request, "demo/result.html", context)


@sandbox_only
@require_GET
def success(request):
    return _result(request, "success")


@sandbox_only
@require_GET
def error(request):
    return _result(request, "error")


@csrf_exempt
@sandbox_only
@require_POST
def postback(request):
    """Receive a gateway postback the way a merchant should: verify, then record."""
    merchant = Merchant.objects.filter(slug=settings.DEMO_MERCHANT_SLUG).first()
    if merchant is None:
        return HttpResponse(status=404)
    headers = {k: v for k, v in request.headers.items()}
    try:
        payload = Webhook(merchant.postback_secret).verify(request.body, headers)
    except WebhookVerificationError:
        return HttpResponse("bad signature", status=400)
    order = str(payload.get("id", ""))[:64]
    key = _received_key(order)
    received = cache.get(key, [])
    received.append(
        {
            "webhook_id": request.headers.get("webhook-id", ""),
            "event": payload.get("event"),
            "status": payload.get("status"),
            "amount": payload.get("amount"),
            "currency": payload.get("currency"),
            "verified": True,
        }
    )
    cache.set(key, received, POSTBACK_KEEP_SECONDS)
    return HttpResponse("ok")
