"""The errors the SDK raises: `APayGateError` and one subclass per kind, and the verifier's.

Catch the subclass for the kind you handle (`except RateLimitError`), or `APayGateError`
for all; `code` stays the stable machine code, `request_id` the gateway's `X-Request-ID`
for the request (quote it when asking for help).
"""

from __future__ import annotations


class APayGateError(Exception):
    """An error answer from the API: `{"status": "error", "code", "message", "errors"}`.

    `status` is the HTTP status, or 0 when no answer arrived (network failure, timeout).
    Branch on the subclass or on `code`; `message` is for people.
    """

    def __init__(
        self,
        *,
        status: int,
        code: str,
        message: str,
        errors: dict[str, list[str]] | None = None,
        retry_after: float | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors: dict[str, list[str]] = errors or {}
        self.retry_after = retry_after
        self.request_id = request_id

    @property
    def fields(self) -> list[str]:
        """The request fields the error is about (keys of `errors`), e.g. `["amount"]`."""
        return list(self.errors)

    def __str__(self) -> str:
        text = self.message
        if self.errors:
            text += " (" + "; ".join(f"{k}: {' '.join(v)}" for k, v in self.errors.items()) + ")"
        if self.request_id:
            text += f" [request {self.request_id}]"
        return text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status}, code={self.code!r}, "
            f"message={self.message!r}, request_id={self.request_id!r})"
        )


class AuthenticationError(APayGateError):
    """401/403: no token, an unknown or revoked one, or a disabled merchant."""


class RateLimitError(APayGateError):
    """429: too many requests for this token; `retry_after` says how long to wait."""


class InvalidRequestError(APayGateError):
    """400/404/413/415 and the like: the request itself is wrong; `fields` names the fields."""


class IdempotencyConflictError(APayGateError):
    """409 `idempotency_conflict`: this `id` was used with other values of `fields`."""


class ProviderUnavailableError(APayGateError):
    """502/503/504: the provider (or the gateway) could not take the payment now; retry later."""


class NetworkError(APayGateError):
    """No answer arrived: connection refused, reset or timed out (`status` 0)."""


# Machine code -> subclass, first; then the HTTP status decides.
_BY_CODE: dict[str, type[APayGateError]] = {
    "idempotency_conflict": IdempotencyConflictError,
    "rate_limited": RateLimitError,
    "network_error": NetworkError,
}
_BY_STATUS: dict[int, type[APayGateError]] = {
    401: AuthenticationError,
    403: AuthenticationError,
    429: RateLimitError,
    502: ProviderUnavailableError,
    503: ProviderUnavailableError,
    504: ProviderUnavailableError,
}


def error_class(*, status: int, code: str) -> type[APayGateError]:
    """Return the subclass for an error answer (APayGateError itself when none fits)."""
    if code in _BY_CODE:
        return _BY_CODE[code]
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status == 0:
        return NetworkError
    if 400 <= status < 500 and status != 409:
        return InvalidRequestError
    return APayGateError


class PostbackVerificationError(Exception):
    """A postback that must not be trusted: bad signature, stale timestamp, bad body."""
