"""Named constants holding the wire strings."""

from __future__ import annotations

from enum import Enum


class _WireEnum(str, Enum):
    """A str enum whose `str()` is the wire value (as `StrEnum` on Python 3.11+)."""

    def __str__(self) -> str:
        return str(self.value)


class PaymentStatus(_WireEnum):
    """A payment's status, as the API and postbacks report it."""

    CREATED = "created"
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    EXPIRED = "expired"
    PROVIDER_ERROR = "provider_error"

    @property
    def is_final(self) -> bool:
        return self not in (PaymentStatus.CREATED, PaymentStatus.PENDING)


class PostbackEvent(_WireEnum):
    """The `event` field of a merchant postback."""

    PAYMENT_SUCCEEDED = "payment.succeeded"
    PAYMENT_FAILED = "payment.failed"
    PAYMENT_EXPIRED = "payment.expired"
    PAYMENT_FLAGGED = "payment.flagged"
    POSTBACK_TEST = "postback.test"
