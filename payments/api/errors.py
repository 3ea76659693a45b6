"""Every API error is JSON: `{"status": "error", "code", "message", "errors"}`.

DRF's exceptions are mapped here (exception handler); Django's own 404/500 pages under
`/api/` are JSON too (apaygate/pages.py), so a merchant never has to parse HTML. A database
that cannot be reached is a 503 with Retry-After, not a 500 (payments.errors).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.views import exception_handler

from payments.errors import (
    ApiError,
    database_unavailable,
    database_unavailable_response,
    error_body,
    internal_error_response,
)

logger = logging.getLogger(__name__)


class PayloadTooLarge(ApiError):
    def __init__(self, limit: int):
        super().__init__(
            code="payload_too_large",
            message=f"Request body is larger than {limit} bytes.",
            status_code=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )


# DRF exception class -> (our machine code, message used when DRF's is too technical).
_CODES: dict[type, tuple[str, str | None]] = {
    exceptions.ParseError: ("malformed_json", None),  # our parser says what was wrong
    exceptions.UnsupportedMediaType: (
        "unsupported_media_type",
        "Send the body as application/json.",
    ),
    exceptions.NotAuthenticated: ("authentication_required", "Send 'Authorization: Token <key>'."),
    exceptions.AuthenticationFailed: ("invalid_token", None),
    exceptions.PermissionDenied: ("forbidden", None),
    exceptions.NotFound: ("not_found", "No such resource."),
    exceptions.MethodNotAllowed: ("method_not_allowed", None),
    exceptions.NotAcceptable: ("not_acceptable", None),
    exceptions.Throttled: ("rate_limited", None),
    exceptions.ValidationError: ("validation_error", "The request has invalid fields."),
}


def _flatten(detail) -> dict[str, list[str]]:
    """Turn DRF's nested error detail into `{"field": ["message", ...]}`."""
    if isinstance(detail, dict):
        out: dict[str, list[str]] = {}
        for key, value in detail.items():
            if isinstance(value, dict):
                for sub, messages in _flatten(value).items():
                    out[f"{key}.{sub}"] = messages
            else:
                items = value if isinstance(value, list) else [value]
                out[str(key)] = [str(v) for v in items]
        return out
    items = detail if isinstance(detail, list) else [detail]
    return {"non_field_errors": [str(v) for v in items]}


def api_exception_handler(exc, context):
    """DRF exception handler: same JSON shape for every failure, headers kept."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge(settings.API_MAX_BODY_BYTES)
    if database_unavailable(exc):
        return database_unavailable_response(exc)
    response = exception_handler(exc, context)
    if response is None:
        logger.exception("unhandled API error", exc_info=exc)
        return internal_error_response()
    if isinstance(exc, ApiError):
        response.data = error_body(code=exc.code, message=exc.message, errors=exc.errors)
        return response
    code, message = _CODES.get(type(exc), (None, None))
    for cls, (mapped_code, mapped_message) in _CODES.items():
        if code is None and isinstance(exc, cls):
            code, message = mapped_code, mapped_message
    detail_code = getattr(exc, "default_code", None)
    if isinstance(exc, exceptions.AuthenticationFailed | exceptions.PermissionDenied):
        codes = exc.get_codes()
        if isinstance(codes, str) and codes not in {"authentication_failed", "permission_denied"}:
            code = codes
    errors = _flatten(exc.detail) if isinstance(exc, exceptions.ValidationError) else {}
    if message is None:
        message = str(exc.detail) if not isinstance(exc.detail, dict | list) else str(exc)
    response.data = error_body(code=code or detail_code or "error", message=message, errors=errors)
    return response
