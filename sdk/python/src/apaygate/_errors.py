"""The two errors the SDK raises."""

from __future__ import annotations


class APayGateError(Exception):
    """An error answer from the API: `{"status": "error", "code", "message", "errors"}`.

    `status` is the HTTP status, or 0 when no answer arrived (network failure, timeout).
    Branch on `code`; `message` is for people.
    """

    def __init__(
        self,
        *,
        status: int,
        code: str,
        message: str,
        errors: dict[str, list[str]] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors: dict[str, list[str]] = errors or {}
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return f"APayGateError(status={self.status}, code={self.code!r}, message={self.message!r})"


class PostbackVerificationError(Exception):
    """A postback that must not be trusted: bad signature, stale timestamp, bad body."""
