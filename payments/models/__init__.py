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
from .endpoints import EndpointState, PostbackEndpoint
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
    "EndpointState",
    "EventType",
    "ExchangeRate",
    "Merchant",
    "Payment",
    "PaymentEvent",
    "PaymentStatus",
    "PaymentType",
    "PostbackDelivery",
    "PostbackEndpoint",
    "PostbackEvent",
    "TokenMode",
]
