"""The error services raise when a request cannot be served: a machine code and an HTTP status.

Services (payment_init, resend) decide *what* went wrong; the API layer
(payments/api/errors.py) decides how it looks on the wire. It is a DRF exception so that the
API's exception handler renders it without a translation table.

The JSON error shape itself (`error_body`) and the database-unavailable answer live here,
not in the API package: the request-shape middleware and the site's 404/500 handlers need
them too, and they must not import DRF's views (an import cycle at URLconf load).
"""

from __future__ import annotations

import logging

from django.db import InterfaceError, OperationalError
from django.http import JsonResponse
from rest_framework import exceptions

from foundation.request_id import get_request_id

__all__ = [
    "DATABASE_RETRY_AFTER_SECONDS",
    "ApiError",
    "database_unavailable",
    "database_unavailable_response",
    "error_body",
    "internal_error_response",
]

logger = logging.getLogger(__name__)

# What a client is told to wait (Retry-After) when PostgreSQL cannot be reached: long enough
# for a restart or a fail-over to finish, short enough that a shopper's reload works.
DATABASE_RETRY_AFTER_SECONDS = 5


class ApiError(exceptions.APIException):
    """An error with our own machine code, status and optional per-field errors."""

    def __init__(
        self, *, code: str, message: str, status_code: int = 400, errors: dict | None = None
    ):
        super().__init__(detail=message, code=code)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.errors = errors or {}


def database_unavailable(exc: BaseException | None) -> bool:
    """Whether `exc` means PostgreSQL cannot serve us right now, rather than a bug of ours.

    OperationalError covers a server that is down or restarting, refused connections ("too
    many clients already"), a dropped connection, a statement timeout and a deadlock;
    InterfaceError a connection already closed under us. All are temporary: the request is
    answered 503 with Retry-After, never 500, and nothing was written (the transaction did
    not commit). Integrity and programming errors stay 500s: they are ours to fix.
    """
    return isinstance(exc, OperationalError | InterfaceError)


def error_body(*, code: str, message: str, errors: dict | None = None) -> dict:
    """Every JSON error the gateway sends: `{"status": "error", "code", "message", "errors"}`."""
    return {"status": "error", "code": code, "message": message, "errors": errors or {}}


def database_unavailable_response(exc: BaseException | None = None) -> JsonResponse:
    """503 `service_unavailable` with Retry-After: the database is down or out of connections.

    Logged as one line, without a traceback: the cause is the database's, and the readiness
    probe (/readyz) and the database's own metrics say more than a stack would.
    """
    logger.error("database unavailable, answering 503: %s", type(exc).__name__)
    response = JsonResponse(
        error_body(
            code="service_unavailable",
            message="Temporarily unavailable; nothing was changed. Retry shortly.",
        ),
        status=503,
    )
    response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
    return response


def internal_error_response() -> JsonResponse:
    """500 `internal_error`, naming the request id the logs carry for this request.

    The id is also the `X-Request-ID` header; it is in the message too because that is
    what a merchant pastes into a support ticket.
    """
    request_id = get_request_id()
    message = "Internal error; it has been logged."
    if request_id:
        message += f" Quote request id {request_id} when you ask for help."
    return JsonResponse(error_body(code="internal_error", message=message), status=500)
