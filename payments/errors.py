"""The error services raise when a request cannot be served: a machine code and an HTTP status.

Services (payment_init, resend) decide *what* went wrong; the API layer
(payments/api/errors.py) decides how it looks on the wire. It is a DRF exception so that the
API's exception handler renders it without a translation table.
"""

from __future__ import annotations

from rest_framework import exceptions

__all__ = ["ApiError"]


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
