"""Typed shapes of the API's answers, with the API's own (camelCase) keys."""

from __future__ import annotations

import sys
from typing import Optional

if sys.version_info >= (3, 11):
    from typing import NotRequired, TypedDict
else:  # pragma: no cover
    from typing_extensions import NotRequired, TypedDict


class InitPaymentAnswer(TypedDict):
    status: str
    id: str
    url: str


class PostbackState(TypedDict):
    event: str
    status: str
    attempts: int
    lastStatusCode: Optional[int]
    nextAttemptAt: Optional[str]
    deliveredAt: Optional[str]


class Payment(TypedDict):
    paymentId: str
    id: Optional[str]
    # 1, then 2, 3... for new attempts under the same `id` after a decline.
    attempt: int
    retryOf: Optional[str]
    status: str
    test: bool
    amount: str
    currency: str
    type: str
    providerAmount: Optional[str]
    providerCurrency: str
    exchangeRate: Optional[str]
    successUrl: str
    errorUrl: str
    postbackUrl: str
    url: str
    createdAt: str
    updatedAt: str
    postback: Optional[PostbackState]


class PostbackResendAnswer(TypedDict):
    status: str
    paymentId: str
    webhookId: str
    event: str
    deliveryStatus: str


class PostbackTestAnswer(TypedDict):
    status: str
    delivered: bool
    webhookId: str
    statusCode: Optional[int]
    durationMs: int
    error: str
    responseBody: str


class PostbackPayload(TypedDict):
    event: str
    id: str
    paymentId: str
    status: str
    amount: str
    currency: str
    createdAt: str
    updatedAt: str
    paidAmount: NotRequired[str]
    paidCurrency: NotRequired[str]
    reviewReason: NotRequired[str]
