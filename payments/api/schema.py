"""OpenAPI descriptions of the merchant API (drf-spectacular), kept apart from the views.

Each of `init_payment_schema`, `payment_detail_schema` and `payment_list_schema` decorates
one API method in `payments/api/payments.py`. The request schema of init-payment is written out
here (not derived from `InitPaymentInput`) because it says more than the serializer can:
one variant per currency group, so that `amount`'s allowed decimals follow the currency,
exactly as the API checks them. schemathesis (tests/docs/test_schemathesis.py) holds
these descriptions to what the live API does.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers

from payments.api.openapi.answers import (
    INIT_ANSWER_EXAMPLE,
    PAYMENT_EXAMPLE,
    RETRY_AFTER,
    error_response,
)
from payments.api.openapi.request import TEST_URL_PATTERN, InitPaymentRequestSerializer
from payments.api.serializers import InitPaymentAnswerSerializer, PaymentSerializer
from payments.models import DeliveryStatus, PaymentStatus

init_payment_schema = extend_schema(
    operation_id="init_payment",
    summary="Create a payment",
    description=(
        "Validates the payment, stores it, asks the merchant's provider (the sandbox for test "
        "tokens) for an invoice, and answers with the gateway's own link for the shopper. "
        "The payment's status then changes only with the provider's verified postback; you "
        "learn it from the signed postback to `postbackUrl`.\n\n"
        "Idempotent by `id`, or by the `Idempotency-Key` header for requests without `id`."
    ),
    tags=["payments"],
    request=InitPaymentRequestSerializer,
    parameters=[
        OpenApiParameter(
            "Idempotency-Key",
            OpenApiTypes.STR,
            OpenApiParameter.HEADER,
            required=False,
            description=(
                "For requests without `id`: the same key with the same body returns the first "
                "answer. At most 255 characters. Ignored when `id` is sent."
            ),
        ),
        RETRY_AFTER,
    ],
    examples=[
        OpenApiExample(
            "Tele.Store spelling",
            request_only=True,
            value={
                "id": "sddc",
                "customerEmail": "shopper@example.com",
                "customerName": "UserName",
                "amount": 100,
                "currency": "USD",
                "successUrl": "https://casino.example/success",
                "errorUrl": "https://casino.example/error",
                "postbackUrl": "https://casino.example/api/payment-verify",
            },
        ),
        OpenApiExample(
            "Bansky spelling",
            request_only=True,
            value={
                "id": "sddc-2",
                "email": "shopper@example.com",
                "name": "UserName",
                "amount": "100.00",
                "currency": "USD",
                "type": "fiat",
                "sussessUrl": "https://shop.example/success",
                "errorUrl": "https://shop.example/error",
                "postbackUrl": "https://shop.example/api/payment-verify",
            },
        ),
        OpenApiExample(
            "Crypto, no postbacks",
            request_only=True,
            value={
                "amount": "0.00150000",
                "currency": "BTC",
                "successUrl": "https://shop.example/success",
                "errorUrl": "https://shop.example/error",
            },
        ),
    ],
    responses={
        201: OpenApiResponse(
            response=InitPaymentAnswerSerializer,
            description="Created. Send the shopper to `url`.",
            examples=[OpenApiExample("created", value=INIT_ANSWER_EXAMPLE, status_codes=["201"])],
        ),
        200: OpenApiResponse(
            response=InitPaymentAnswerSerializer,
            description="A repeated request (same `id` or `Idempotency-Key`, same fields): "
            "the first answer again; the provider is not called again.",
            examples=[OpenApiExample("replayed", value=INIT_ANSWER_EXAMPLE, status_codes=["200"])],
        ),
        **{status: error_response(status) for status in (400, 401, 403, 406, 409, 413, 415, 429)},
        **{status: error_response(status) for status in (502, 503, 504)},
    },
)

_PAYMENT_ID_PARAMETER = OpenApiParameter(
    "payment_id",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    description="The gateway's payment id (`id` in the init-payment answer).",
)

payment_detail_schema = extend_schema(
    operation_id="get_payment",
    summary="Get one payment",
    description="One of your payments, with its status and the state of its latest postback.",
    tags=["payments"],
    parameters=[_PAYMENT_ID_PARAMETER, RETRY_AFTER],
    responses={
        200: OpenApiResponse(
            response=PaymentSerializer,
            examples=[OpenApiExample("succeeded", value=PAYMENT_EXAMPLE, status_codes=["200"])],
        ),
        **{status: error_response(status) for status in (401, 403, 404, 406, 429)},
    },
)


def _query(name: str, schema: dict, description: str) -> OpenApiParameter:
    """A filter parameter; empty (`?name=`) counts as not given."""
    return OpenApiParameter(
        name,
        {"anyOf": [schema, {"type": "string", "maxLength": 0}]},
        OpenApiParameter.QUERY,
        description=f"{description} Empty means not set.",
    )


payment_list_schema = extend_schema(
    operation_id="list_payments",
    summary="List payments",
    description="Your payments, newest first, paginated with `limit` and `offset`.",
    tags=["payments"],
    parameters=[
        # An empty value (`?status=`) means "not set", as in an HTML form; say so.
        _query(
            "id",
            {"type": "string", "maxLength": 128, "pattern": r"^[^\x00]*$"},
            "Your transaction id.",
        ),
        _query(
            "status",
            {"type": "string", "enum": [s.value for s in PaymentStatus]},
            "Current status.",
        ),
        _query("created_after", {"type": "string", "format": "date-time"}, "ISO 8601, inclusive."),
        _query("created_before", {"type": "string", "format": "date-time"}, "ISO 8601, exclusive."),
        _query(
            "limit", {"type": "integer", "minimum": 1, "maximum": 200}, "Page size (default 50)."
        ),
        _query("offset", {"type": "integer", "minimum": 0}, "Rows to skip."),
        RETRY_AFTER,
    ],
    responses={
        200: OpenApiResponse(
            response=inline_serializer(
                name="PaymentPage",
                fields={
                    "count": serializers.IntegerField(),
                    "next": serializers.URLField(allow_null=True),
                    "previous": serializers.URLField(allow_null=True),
                    "results": PaymentSerializer(many=True),
                },
            ),
        ),
        **{status: error_response(status) for status in (400, 401, 403, 406, 429)},
    },
)

payment_postback_resend_schema = extend_schema(
    operation_id="resend_postback",
    summary="Resend a payment's postback",
    description=(
        "Queues the payment's latest postback again, with the same `webhook-id` (so you can "
        "drop it if you already have it) and a fresh retry schedule."
    ),
    tags=["postbacks"],
    request=None,
    parameters=[_PAYMENT_ID_PARAMETER, RETRY_AFTER],
    responses={
        202: OpenApiResponse(
            response=inline_serializer(
                name="PostbackResendAnswer",
                fields={
                    "status": serializers.ChoiceField(choices=["success"]),
                    "paymentId": serializers.CharField(),
                    "webhookId": serializers.CharField(),
                    "event": serializers.CharField(help_text="`payment.<status>`"),
                    "deliveryStatus": serializers.ChoiceField(choices=DeliveryStatus.choices),
                },
            ),
            description="Queued.",
        ),
        **{status: error_response(status) for status in (401, 403, 404, 406, 429)},
        409: error_response(409, ["not_final", "no_postback_url"]),
    },
)

postback_test_schema = extend_schema(
    operation_id="send_test_postback",
    summary="Send a test postback",
    description=(
        "Sends one signed postback (`event`: `postback.test`) to `url` now, and reports what "
        "your endpoint answered. Use it to check your endpoint and signature code."
    ),
    tags=["postbacks"],
    request=inline_serializer(
        name="PostbackTest",
        fields={"url": serializers.RegexField(TEST_URL_PATTERN, max_length=2048)},
    ),
    parameters=[RETRY_AFTER],
    responses={
        200: OpenApiResponse(
            response=inline_serializer(
                name="PostbackTestAnswer",
                fields={
                    "status": serializers.ChoiceField(choices=["success"]),
                    "delivered": serializers.BooleanField(help_text="Your endpoint answered 2xx."),
                    "webhookId": serializers.CharField(),
                    "statusCode": serializers.IntegerField(allow_null=True),
                    "durationMs": serializers.IntegerField(),
                    "error": serializers.CharField(allow_blank=True),
                    "responseBody": serializers.CharField(
                        allow_blank=True, help_text="The first 2 KB of your answer."
                    ),
                },
            ),
            description="Sent (whatever your endpoint answered: see `delivered`).",
        ),
        **{status: error_response(status) for status in (400, 401, 403, 406, 415, 429)},
    },
)

postback_stream_schema = extend_schema(
    operation_id="stream_postbacks",
    summary="Stream test-mode postbacks (server-sent events)",
    description=(
        "What `apaygate listen --forward-to URL` reads (the Python SDK's console command, the "
        "TypeScript SDK's `npx` bin). **Test tokens only**: a live token gets 403 "
        "`test_token_required`; live postbacks are never streamed.\\n\\n"
        "Every test-mode postback the gateway sends (to the payment's `postbackUrl`, or "
        "tries to) is also sent here, as `event: postback`, `id: <entry id>`, `data: "
        '{"event", "paymentId", "headers", "body"}`: `body` is the exact text that was '
        "signed and `headers` the `webhook-id`, `webhook-timestamp`, `webhook-signature` and "
        "`Content-Type` as sent, so forwarding them unchanged lets your own handler verify "
        "the signature with your secret. A comment line comes every 15 s. The server ends a "
        "stream after a while (`POSTBACK_STREAM_MAX_SECONDS`); reconnect with the "
        "`Last-Event-ID` header to get what came meanwhile (the last 100 postbacks of the "
        "last hour are kept)."
    ),
    tags=["postbacks"],
    parameters=[
        OpenApiParameter(
            "Last-Event-ID",
            OpenApiTypes.STR,
            OpenApiParameter.HEADER,
            required=False,
            description="The `id` of the last event you got: the stream resumes after it.",
        ),
        RETRY_AFTER,
    ],
    responses={
        (200, "text/event-stream"): OpenApiResponse(
            response=OpenApiTypes.STR,
            description="Server-sent events, one `postback` event per test-mode postback.",
        ),
        401: error_response(401),
        403: error_response(403, ["test_token_required", "merchant_disabled"]),
        429: error_response(429, ["rate_limited", "stream_limit_reached"]),
        503: error_response(503, ["stream_unavailable", "overloaded"]),
    },
)
