"""Routes for the ops tests: `/metrics` as the lead wires it, and a view that logs secrets."""

from __future__ import annotations

import logging

from django.http import HttpRequest, JsonResponse
from django.urls import path

from apaygate.metrics import metrics_view
from foundation.request_id import outbound_headers

logger = logging.getLogger("tests.ops")


def echo(request: HttpRequest, number: int) -> JsonResponse:
    """Log what a careless view might: the caller's credentials and a customer's e-mail."""
    logger.info("echo %s for %s", request.headers.get("Authorization"), request.GET.get("email"))
    logger.warning("headers %s", dict(request.headers), extra={"email": request.GET.get("email")})
    try:
        raise ValueError(f"bad token {request.headers.get('Authorization')}")
    except ValueError:
        logger.exception("failed for %s", request.GET.get("email"))
    return JsonResponse({"number": number, "outbound": outbound_headers()})


urlpatterns = [
    path("metrics", metrics_view, name="metrics"),
    path("ops-echo/<int:number>", echo, name="ops-echo"),
]
