"""Site-wide pages: the 404 and 500 handlers, and /favicon.ico.

Errors are JSON under /api/ (the API's error shape) and branded HTML elsewhere. When the
500 handler finds that the error was PostgreSQL being out of reach (down, restarting, out
of connections), it answers 503 with Retry-After instead: the visitor is told to retry,
and a provider's postback is retried by the provider.

Shoppers land on these from a mistyped or stale payment link, so the page speaks to them
(no Django "Not Found", no link into the developer docs); portal and docs visitors get a
way back to where they were.
"""

from __future__ import annotations

import logging
import sys

from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponsePermanentRedirect,
    HttpResponseServerError,
    JsonResponse,
)
from django.shortcuts import render
from django.template import loader
from django.templatetags.static import static
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from payments.errors import (
    DATABASE_RETRY_AFTER_SECONDS,
    database_unavailable,
    database_unavailable_response,
    error_body,
    internal_error_response,
)

logger = logging.getLogger(__name__)


def _api_error(*, code: str, message: str, status: int) -> JsonResponse:
    return JsonResponse(error_body(code=code, message=message), status=status)


def error_area(path: str) -> str:
    """Which chrome an error page for `path` wears: shopper, portal, docs or site."""
    for prefix, area in (
        ("/integration/", "shopper"),
        ("/sandbox/", "shopper"),
        ("/portal/", "portal"),
        ("/docs/", "docs"),
        ("/internal-docs/", "docs"),
    ):
        if path.startswith(prefix):
            return area
    return "site"


def _error_context(path: str) -> dict[str, str]:
    return _area_context(error_area(path))


def _area_context(area: str) -> dict[str, str]:
    # Shoppers get the shopper chrome (no links into the gateway); portal and docs
    # visitors the site chrome, whose header leads back to the docs and the portal.
    layout = "shopper/layout.html" if area == "shopper" else "base.html"
    return {"area": area, "layout": layout}


def page_not_found(request: HttpRequest, exception=None) -> HttpResponse:
    """Answer a 404: the API's JSON error under /api/, the branded page elsewhere."""
    if request.path.startswith("/api/"):
        return _api_error(code="not_found", message="No such resource.", status=404)
    return render(request, "errors/404.html", _error_context(request.path), status=404)


@csrf_exempt
def api_not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    """Answer any /api/ path no route takes, in every method, with the API's JSON 404.

    A route rather than the 404 handler alone: with DEBUG on (`make run`) Django answers
    unmatched paths with its HTML debug page, which an SDK would show as a chunk of HTML.
    """
    return _api_error(
        code="not_found",
        message=f"No API route {request.method} {request.path}; see /api/docs/ for the routes.",
        status=404,
    )


def server_error(request: HttpRequest) -> HttpResponse:
    """Answer a 500 without touching the database or the request's context processors.

    Django calls this handler while the exception is being handled, so sys.exc_info() names
    it; that is how an unreachable database, raised in a view or a middleware, becomes a 503.
    """
    exc = sys.exc_info()[1]
    if request.path.startswith("/api/"):
        return api_server_error(exc)
    if database_unavailable(exc):
        return service_unavailable(request, exc)
    html = loader.get_template("errors/500.html").render(_error_context(request.path))
    return HttpResponseServerError(html)


def api_server_error(exc: BaseException | None) -> HttpResponse:
    """The API's answer to an exception: 503 when the database is out of reach, else 500.

    Also used with DEBUG on, in place of Django's debug page (apaygate/api_debug_errors.py).
    """
    if database_unavailable(exc):
        return database_unavailable_response(exc)
    return internal_error_response()


def service_unavailable(request: HttpRequest, exc: BaseException | None) -> HttpResponse:
    """503 with Retry-After: the API's JSON under /api/ (provider postbacks included), a page
    elsewhere."""
    if request.path.startswith("/api/"):
        return database_unavailable_response(exc)
    logger.error("database unavailable, answering 503 for %s", request.path)
    html = loader.get_template("errors/503.html").render(_error_context(request.path))
    response = HttpResponse(html, status=503)
    response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
    return response


def unavailable_page(area: str) -> str:
    """The branded 503 page of an area, without a request (the web's load shedding sends it)."""
    return loader.get_template("errors/503.html").render(_area_context(area))


@require_GET
def favicon(request: HttpRequest) -> HttpResponse:
    """Send browsers that ask for /favicon.ico to the SVG icon every page links to.

    Resolved per request, not at import: the static manifest may not exist yet then.
    """
    return HttpResponsePermanentRedirect(static("apaygate/favicon.svg"))
