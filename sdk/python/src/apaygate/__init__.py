"""APayGate: the official Python client for the Merchant API v1.

from apaygate import Client, PaymentStatus, verify_postback
"""

from ._async_client import AsyncClient
from ._client import Client
from ._constants import PaymentStatus, PostbackEvent
from ._errors import (
    APayGateError,
    AuthenticationError,
    IdempotencyConflictError,
    InvalidRequestError,
    NetworkError,
    PostbackVerificationError,
    ProviderUnavailableError,
    RateLimitError,
)
from ._types import (
    InitPaymentAnswer,
    Payment,
    PostbackPayload,
    PostbackResendAnswer,
    PostbackState,
    PostbackTestAnswer,
)
from ._verify import Postback, verify_postback
from ._version import __version__

__all__ = [
    "APayGateError",
    "AsyncClient",
    "AuthenticationError",
    "Client",
    "IdempotencyConflictError",
    "InitPaymentAnswer",
    "InvalidRequestError",
    "NetworkError",
    "Payment",
    "PaymentStatus",
    "Postback",
    "PostbackEvent",
    "PostbackPayload",
    "PostbackResendAnswer",
    "PostbackState",
    "PostbackTestAnswer",
    "PostbackVerificationError",
    "ProviderUnavailableError",
    "RateLimitError",
    "__version__",
    "verify_postback",
]
