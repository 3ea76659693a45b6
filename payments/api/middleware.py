"""Refuse request shapes no view should have to think about, before any view runs.

- A NUL byte in the path or the query string: no id, reference or filter of ours can hold
  one, and PostgreSQL refuses it in a query (a 500). Such a request names nothing: 404
  (the branded page; JSON under /api/ and for .json routes), or a 400 for an API query
  parameter.
- A chunked request body (`Transfer-Encoding: chunked`, no `Content-Length`): WSGI
  servers pass no length for it and Django reads such a body as empty, so a 2 MB chunked
  init-payment used to be answered "amount required". Providers and merchant SDKs send a
  length; anything that does not is refused with 411 Length Required (RFC 9110 s15.5.12),
  which also keeps the size limit (413) meaningful.
"""

from __future__ import annotations

from django.http import Http404, HttpResponse, JsonResponse

from payments.errors import error_body

API_PREFIX = "/api/"


def _has_nul(request) -> tuple[bool, bool]:
    """Return (NUL in the path, NUL in the query string)."""
    query = request.META.get("QUERY_STRING", "")
    return "\x00" in request.path, "\x00" in query or "%00" in query


class RequestShapeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        in_path, in_query = _has_nul(request)
        wants_json = request.path.startswith(API_PREFIX) or request.path.endswith(".json")
        if in_path or (in_query and not request.path.startswith(API_PREFIX)):
            if wants_json:
                body = error_body(code="not_found", message="No such resource.")
                return JsonResponse(body, status=404)
            raise Http404("No such resource.")  # the site's own 404 page
        if in_query:
            body = error_body(
                code="validation_error", message="Query parameters may not contain NUL characters."
            )
            return JsonResponse(body, status=400)
        encoding = request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
        if "chunked" in encoding:
            message = "Send the body with a Content-Length; chunked bodies are not accepted."
            if request.path.startswith(API_PREFIX):
                body = error_body(code="length_required", message=message)
                return JsonResponse(body, status=411)
            return HttpResponse(message, status=411, content_type="text/plain")
        return self.get_response(request)
