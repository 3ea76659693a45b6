"""Answer schemas and examples: the payment, the init answer, and every error with its codes."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    inline_serializer,
)
from rest_framework import serializers

from payments.api.openapi.extensions import EXAMPLE_BASE, EXAMPLE_PAYMENT_ID

# --- answers -------------------------------------------------------------------------

ERROR_CODES = {
    400: ["validation_error", "malformed_json", "exchange_rate_missing"],
    401: ["authentication_required", "invalid_token", "revoked_token"],
    403: ["merchant_disabled"],
    404: ["not_found"],
    406: ["not_acceptable"],
    409: ["idempotency_conflict", "request_in_progress"],
    413: ["payload_too_large"],
    415: ["unsupported_media_type"],
    429: ["rate_limited"],
    502: ["provider_refused", "provider_interrupted"],
    503: ["provider_unavailable"],
    504: ["provider_timeout"],
}
ERROR_MEANINGS = {
    "validation_error": "One or more fields are invalid; see `errors`.",
    "malformed_json": "The body is not valid JSON.",
    "exchange_rate_missing": "No exchange rate from this currency to TUSD is set (Tele.Store).",
    "authentication_required": "No `Authorization` header.",
    "invalid_token": "Unknown or malformed token.",
    "revoked_token": "The token was revoked.",
    "merchant_disabled": "The merchant account is disabled.",
    "not_found": "No such payment, or not yours.",
    "not_acceptable": "The `Accept` header excludes JSON.",
    "idempotency_conflict": "This `id` (or `Idempotency-Key`) was used with different fields.",
    "request_in_progress": "The first request with this `id` is still at the provider; retry.",
    "payload_too_large": "The body is over the size limit (1 MB).",
    "unsupported_media_type": "The body is not `application/json`.",
    "rate_limited": "Too many requests for this token; wait `Retry-After` seconds.",
    "provider_refused": "The provider refused; the payment is kept as `provider_error`.",
    "provider_unavailable": "The provider could not be reached; payment kept as `provider_error`.",
    "provider_timeout": "The provider did not answer in time; payment kept as `provider_error`.",
    "provider_interrupted": "The gateway stopped mid-call; payment closed as `provider_error`.",
    "not_final": "The payment is not final yet: there is no postback to resend.",
    "no_postback_url": "The payment was created without `id` or `postbackUrl`: no postbacks.",
    "test_token_required": "Only test-mode postbacks are streamed: use a test token.",
    "stream_limit_reached": "This merchant has its maximum of streams open; close one.",
    "stream_unavailable": "This gateway cannot stream right now (or at all: no Redis).",
    "overloaded": "The server is at capacity; retry after `Retry-After` seconds.",
}
EXAMPLE_FIELD_ERRORS = {
    "validation_error": {"amount": ["At most 2 decimal places for this currency."]},
    "exchange_rate_missing": {"currency": ["No TUSD rate for EUR."]},
}

ErrorSerializer = inline_serializer(
    name="Error",
    fields={
        "status": serializers.ChoiceField(choices=["error"]),
        "code": serializers.CharField(help_text="Stable machine code; branch on it."),
        "message": serializers.CharField(help_text="For people; may change."),
        "errors": serializers.DictField(
            child=serializers.ListField(child=serializers.CharField()),
            help_text="Field name to its messages; `{}` when the error is not about fields.",
        ),
    },
)


def error_response(status: int, codes: list[str] | None = None) -> OpenApiResponse:
    codes = codes or ERROR_CODES[status]
    lines = "\n".join(f"- `{code}`: {ERROR_MEANINGS[code]}" for code in codes)
    examples = [
        OpenApiExample(
            code,
            value={
                "status": "error",
                "code": code,
                "message": ERROR_MEANINGS[code],
                "errors": EXAMPLE_FIELD_ERRORS.get(code, {}),
            },
            response_only=True,
            status_codes=[str(status)],
        )
        for code in codes
    ]
    return OpenApiResponse(
        response=ErrorSerializer, description=f"Codes:\n\n{lines}", examples=examples
    )


INIT_ANSWER_EXAMPLE = {
    "status": "success",
    "id": EXAMPLE_PAYMENT_ID,
    "url": f"{EXAMPLE_BASE}/integration/pay?id={EXAMPLE_PAYMENT_ID}",
}


PAYMENT_EXAMPLE = {
    "paymentId": EXAMPLE_PAYMENT_ID,
    "id": "sddc",
    "status": "succeeded",
    "test": False,
    "amount": "100.00",
    "currency": "USD",
    "type": "fiat",
    "providerAmount": "92.50",
    "providerCurrency": "TUSD",
    "exchangeRate": "0.925",
    "successUrl": "https://casino.example/success",
    "errorUrl": "https://casino.example/error",
    "postbackUrl": "https://casino.example/api/payment-verify",
    "url": f"{EXAMPLE_BASE}/integration/pay?id={EXAMPLE_PAYMENT_ID}",
    "createdAt": "2026-01-15T10:00:00Z",
    "updatedAt": "2026-01-15T10:01:30Z",
    "postback": {
        "event": "payment.succeeded",
        "status": "succeeded",
        "attempts": 1,
        "lastStatusCode": 204,
        "nextAttemptAt": None,
        "deliveredAt": "2026-01-15T10:01:31Z",
    },
}

RETRY_AFTER = OpenApiParameter(
    "Retry-After",
    OpenApiTypes.INT,
    OpenApiParameter.HEADER,
    response=["429"],
    description="Seconds to wait before the next request.",
)
