"""The interface every payment provider adapter implements.

Only frozen dataclasses cross this boundary, and adapters never import the ORM: the
payments app turns rows into an `InvoiceRequest`, and a verified postback into a
`ProviderEvent`, so an adapter can be read (and tested) as plain HTTP-in, HTTP-out code.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from decimal import Decimal
from typing import ClassVar


class ProviderError(Exception):
    """The provider refused, failed or could not be reached.

    `kind` decides the HTTP status the merchant sees: `refused` (502), `unavailable` (503),
    `timeout` (504). `permanent` says whether the same request could succeed if retried.
    """

    def __init__(self, message: str, *, kind: str = "refused", permanent: bool = False):
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.permanent = permanent


class PostbackRejected(Exception):
    """A provider postback that could not be verified; nothing may change because of it."""

    def __init__(self, message: str, *, code: str = "invalid_signature"):
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True)
class InvoiceRequest:
    """What the gateway asks a provider to bill: our ids and our URLs, never the merchant's."""

    payment_id: str
    amount: Decimal
    currency: str
    payment_type: str
    customer_email: str
    customer_name: str
    success_url: str
    error_url: str
    postback_url: str
    # Set for providers that bill in their own currency (Tele: TUSD).
    provider_amount: Decimal | None = None
    provider_currency: str = ""


@dataclass(frozen=True)
class Invoice:
    """A provider's answer: where to send the shopper, and its own reference."""

    url: str
    reference: str
    raw: dict = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class ProviderEvent:
    """A verified provider postback, mapped to our vocabulary.

    `outcome` is one of `succeeded`, `failed`, `expired`, `pending` (no state change).
    """

    payment_id: str
    outcome: str
    provider_reference: str = ""
    event_id: str = ""
    paid_amount: Decimal | None = None
    paid_currency: str = ""
    raw: dict = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class RawPostback:
    """An inbound postback as received: the raw body is what signatures are computed over."""

    body: bytes
    headers: dict[str, str]


class Provider(abc.ABC):
    """One upstream payment provider."""

    key: ClassVar[str]
    label: ClassVar[str]
    requires_email: ClassVar[bool] = False
    # Providers that bill in one currency of their own (Tele: TUSD) set it here; the
    # gateway converts with the stored exchange rate before calling `create_invoice`.
    billing_currency: ClassVar[str] = ""
    default_currency: ClassVar[str] = ""

    @abc.abstractmethod
    def create_invoice(self, request: InvoiceRequest) -> Invoice:
        """Create an invoice at the provider; raise `ProviderError` on any failure."""

    @abc.abstractmethod
    def parse_postback(self, postback: RawPostback) -> ProviderEvent:
        """Verify a postback on its raw body and map it; raise `PostbackRejected` if not."""
