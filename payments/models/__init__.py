"""Payments app models, one module per sub-topic."""

from __future__ import annotations

from .audit_log import AuditEntry
from .deliveries import (
    DeliveryAttempt,
    DeliveryClaimer,
    DeliveryStatus,
    PostbackDelivery,
    PostbackEvent,
)
from .events import EventType, PaymentEvent
from .merchants import ApiToken, Merchant, TokenMode
from .payment import Payment, PaymentStatus, PaymentType
from .rates import ExchangeRate

__all__ = [
    "ApiToken",
    "AuditEntry",
    "DeliveryAttempt",
    "DeliveryClaimer",
    "DeliveryStatus",
    "EventType",
    "ExchangeRate",
    "Merchant",
    "Payment",
    "PaymentEvent",
    "PaymentStatus",
    "PaymentType",
    "PostbackDelivery",
    "PostbackEvent",
    "TokenMode",
]
