"""OpenAPI descriptions of the merchant API (drf-spectacular), kept apart from the views.

Each of `init_payment_schema`, `payment_detail_schema` and `payment_list_schema` decorates
one API method in `payments/api.py`. The request schema of init-payment is written out
here (not derived from `InitPaymentInput`) because it says more than the serializer can:
one variant per currency group, so that `amount`'s allowed decimals follow the currency,
exactly as the API checks them. schemathesis (tests/docs/test_schemathesis.py) holds
these descriptions to what the live API does.
"""

from __future__ import annotations

from collections import defaultdict

import iso4217
from drf_spectacular.extensions import (
    OpenApiAuthenticationExtension,
    OpenApiSerializerExtension,
    OpenApiSerializerFieldExtension,
)
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers

from .currencies import CRYPTO_CODES, TELE_USD_ALIASES, currency_lookup
from .inputs import MERCHANT_URL_PATTERN, SPACE_CLASS
from .models import DeliveryStatus, PaymentStatus, PaymentType

MAX_INTEGER_DIGITS = 12
EXAMPLE_PAYMENT_ID = "pay_3q2XbGm1yZ8Kk0L9Vb7hT6cR5aN4pWdE"
EXAMPLE_BASE = "https://gate.example"


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """`Authorization: Token <key>` (canonical) or `Bearer <key>`."""

    target_class = "payments.authentication.ApiTokenAuthentication"
    name = "ApiToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": (
                "Your API token (`apg_live_…`, or `apg_test_…` for the sandbox), sent as "
                "`Authorization: Token <key>` or `Authorization: Bearer <key>`; both are "
                "accepted. In Swagger UI paste the key alone."
            ),
        }


class NamedEnumField(serializers.ChoiceField):
    """A choice field that appears in the schema as a named enum component.

    Generated clients then get named constants (`PaymentStatusEnum.SUCCEEDED`) instead of
    bare strings, which is what the Tele.Store integration asked for.
    """

    component_name = ""
    enum_choices: tuple = ()
    enum_description = ""

    def __init__(self, **kwargs):
        super().__init__(choices=self.enum_choices, **kwargs)


class NamedEnumFieldExtension(OpenApiSerializerFieldExtension):
    target_class = NamedEnumField
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        field = self.target
        lines = "\n".join(f"- `{value}`: {label}" for value, label in field.enum_choices)
        component = ResolvedComponent(
            name=field.component_name,
            type=ResolvedComponent.SCHEMA,
            object=field.component_name,
            schema={
                "type": "string",
                "enum": [value for value, _label in field.enum_choices],
                "description": f"{field.enum_description}\n\n{lines}".strip(),
            },
        )
        auto_schema.registry.register_on_missing(component)
        return component.ref


class PaymentStatusField(NamedEnumField):
    component_name = "PaymentStatusEnum"
    enum_choices = tuple(PaymentStatus.choices)
    enum_description = (
        "Final: `succeeded`, `failed`, `expired` (and `provider_error` for this payment). "
        "Only a verified provider postback moves `pending` to `succeeded` or `failed`."
    )


class PaymentTypeField(NamedEnumField):
    component_name = "PaymentTypeEnum"
    enum_choices = tuple(PaymentType.choices)


class DeliveryStatusField(NamedEnumField):
    component_name = "PostbackDeliveryStatusEnum"
    enum_choices = tuple(DeliveryStatus.choices)


# --- request -------------------------------------------------------------------------


def _currency_groups() -> dict[tuple[str, int], list[str]]:
    """Every currency the API takes, grouped by (kind, minor-unit digits)."""
    groups: dict[tuple[str, int], set[str]] = defaultdict(set)
    codes = [c.code for c in iso4217.Currency] + sorted(CRYPTO_CODES)
    for code in codes:
        info = currency_lookup(code)
        if info is not None:
            groups[(info.kind, info.digits)].add(info.code)
    for alias in TELE_USD_ALIASES:
        info = currency_lookup(alias)
        groups[(info.kind, info.digits)].add("TeleUSD" if alias == "TELEUSD" else alias)
    return {key: sorted(values) for key, values in sorted(groups.items())}


def _amount_pattern(digits: int) -> str:
    """A decimal string > 0 with at most 12 integer digits and `digits` decimals."""
    whole = rf"0*[1-9][0-9]{{0,{MAX_INTEGER_DIGITS - 1}}}"
    if digits == 0:
        return rf"^{whole}$"
    fraction = rf"(\.[0-9]{{1,{digits}}})?"
    below_one = "|".join(
        "0" * leading + rf"[1-9][0-9]{{0,{digits - 1 - leading}}}" for leading in range(digits)
    )
    return rf"^({whole}{fraction}|0*\.({below_one}))$"


def _amount_schema(digits: int) -> dict:
    return {
        "description": (
            f"Greater than 0, at most {MAX_INTEGER_DIGITS} integer digits and {digits} "
            "decimals for these currencies. A JSON number or a string; strings keep "
            "decimals exact."
        ),
        "oneOf": [
            {"type": "string", "pattern": _amount_pattern(digits), "example": "100.00"},
            {
                "type": "integer",
                "minimum": 1,
                "maximum": 10**MAX_INTEGER_DIGITS - 1,
                "description": "As a JSON number only integers; send decimals as a string.",
            },
        ],
    }


# Python's `\s` (what DRF's trimming uses), spelled out: in ECMA regexes, which schema
# tools may use, `\s` is a different set.
_SPACE = SPACE_CLASS
# Merchant URLs: the production rule payments/inputs.py enforces (DEBUG off).
URL_PATTERN = MERCHANT_URL_PATTERN
TEST_URL_PATTERN = URL_PATTERN
EMAIL_PATTERN = r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}$"  # noqa: E501


def _url(description: str) -> dict:
    return {
        "type": "string",
        "maxLength": 2048,
        "pattern": URL_PATTERN,
        "description": description,
    }


COMMON_PROPERTIES = {
    "id": {
        "description": (
            "Your transaction id. Optional, but without it there are no postbacks. Makes the "
            "request idempotent: the same id with the same fields returns the first answer "
            "(200), with other fields a 409. An integer is taken as its digits."
        ),
        "oneOf": [
            {
                "type": "string",
                "minLength": 1,
                "maxLength": 128,
                # Surrounding whitespace is trimmed; what is left must not be empty.
                "pattern": rf"^[^\x00]*[^{_SPACE}\x00][^\x00]*$",
            },
            # A JSON integer is taken as its digits (so at most 128 of them, sign included).
            {"type": "integer", "minimum": 1 - 10**127, "maximum": 10**128 - 1},
        ],
        "example": "sddc",
    },
    "customerEmail": {
        "type": "string",
        "maxLength": 254,
        "pattern": EMAIL_PATTERN,
        "description": "The shopper's e-mail. Alias: `email`. Required by Bansky merchants.",
        "example": "shopper@example.com",
    },
    "customerName": {
        "description": "The shopper's name, optional. Alias: `name`.",
        "oneOf": [
            {"type": "string", "maxLength": 256, "pattern": r"^[^\x00]*$"},
            {"type": "integer", "minimum": 1 - 10**255, "maximum": 10**256 - 1},
        ],
        "example": "UserName",
    },
    "successUrl": _url(
        "Where the shopper lands after paying (absolute https URL). Alias: `sussessUrl`. "
        "Arriving there does not mean the payment succeeded: wait for the postback."
    ),
    "errorUrl": _url("Where the shopper lands when the payment does not go through."),
    "postbackUrl": _url(
        "Where the signed postbacks go. Optional (no postbacks without it and `id`). "
        "Private, loopback, link-local and reserved addresses are refused."
    ),
}


def _variant_name(kind: str, digits: int) -> str:
    return "InitPaymentCrypto" if kind == "crypto" else f"InitPaymentFiat{digits}Decimals"


def _currency_enum_name(kind: str, digits: int) -> str:
    return "CryptoCurrencyEnum" if kind == "crypto" else f"Fiat{digits}DecimalsCurrencyEnum"


def _currency_enum(kind: str, digits: int, codes: list[str]) -> dict:
    return {
        "type": "string",
        "enum": codes,
        "description": (
            f"Currencies with {digits} decimals: ISO 4217 codes, supported crypto codes, or "
            "`TeleUSD`/`TUSD`. Tele.Store merchants may leave `currency` out (default "
            "`TeleUSD`); everyone else sends it."
        ),
    }


def _variant(kind: str, digits: int, codes: list[str]) -> dict:
    return {
        "title": f"{kind} currency with {digits} decimals",
        "type": "object",
        "required": ["amount", "currency", "successUrl", "errorUrl"],
        "properties": {
            **COMMON_PROPERTIES,
            "amount": _amount_schema(digits),
            "currency": {"$ref": f"#/components/schemas/{_currency_enum_name(kind, digits)}"},
            "type": {
                "type": "string",
                "pattern": f"^{kind}$",
                "description": "`fiat` or `crypto`. Optional: inferred from the currency.",
            },
        },
    }


VARIANTS = {
    _variant_name(kind, digits): _variant(kind, digits, codes)
    for (kind, digits), codes in _currency_groups().items()
}
CURRENCY_ENUMS = {
    _currency_enum_name(kind, digits): _currency_enum(kind, digits, codes)
    for (kind, digits), codes in _currency_groups().items()
}

INIT_PAYMENT_REQUEST = {
    "type": "object",
    "required": ["amount", "currency", "successUrl", "errorUrl"],
    "additionalProperties": True,  # unknown fields are ignored, not refused
    "description": (
        "Both integrations' spellings are accepted: `customerEmail`/`email`, "
        "`customerName`/`name`, `successUrl`/`sussessUrl` (the first is canonical and wins "
        "when both are sent). Unknown fields are ignored."
    ),
    "oneOf": [
        _variant(kind, digits, codes) for (kind, digits), codes in _currency_groups().items()
    ],
}


class InitPaymentRequestSerializer(serializers.Serializer):
    """Stands for the init-payment body in the schema; the API parses with `InitPaymentInput`."""


class InitPaymentRequestExtension(OpenApiSerializerExtension):
    target_class = InitPaymentRequestSerializer

    def get_name(self, auto_schema, direction):
        return "InitPayment"

    def map_serializer(self, auto_schema, direction):
        for name, schema in {**CURRENCY_ENUMS, **VARIANTS}.items():
            auto_schema.registry.register_on_missing(
                ResolvedComponent(
                    name=name, type=ResolvedComponent.SCHEMA, object=name, schema=schema
                )
            )
        return INIT_PAYMENT_REQUEST


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
    502: ["provider_refused"],
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
    "not_final": "The payment is not final yet: there is no postback to resend.",
    "no_postback_url": "The payment was created without `id` or `postbackUrl`: no postbacks.",
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


def _error(status: int, codes: list[str] | None = None) -> OpenApiResponse:
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


INIT_ANSWER = inline_serializer(
    name="InitPaymentAnswer",
    fields={
        "status": serializers.ChoiceField(choices=["success"]),
        "id": serializers.CharField(help_text="The gateway's payment id (paymentId)."),
        "url": serializers.URLField(help_text="Send the shopper here (the gateway's own link)."),
    },
)
INIT_ANSWER_EXAMPLE = {
    "status": "success",
    "id": EXAMPLE_PAYMENT_ID,
    "url": f"{EXAMPLE_BASE}/integration/pay?id={EXAMPLE_PAYMENT_ID}",
}


class PostbackStateSerializer(serializers.Serializer):
    event = serializers.CharField(help_text="`payment.<status>`")
    status = DeliveryStatusField()
    attempts = serializers.IntegerField()
    lastStatusCode = serializers.IntegerField(allow_null=True)
    nextAttemptAt = serializers.DateTimeField(allow_null=True)
    deliveredAt = serializers.DateTimeField(allow_null=True)


class PaymentSerializer(serializers.Serializer):
    """What `GET /api/v1/payments/<paymentId>` returns (mirrors `PaymentOutputSerializer`)."""

    paymentId = serializers.CharField(help_text="The gateway's payment id.")
    id = serializers.CharField(allow_null=True, help_text="Your transaction id, if you sent one.")
    status = PaymentStatusField()
    test = serializers.BooleanField(help_text="Made with a test token (sandbox).")
    amount = serializers.CharField(help_text="Decimal string, as you sent it.")
    currency = serializers.CharField()
    type = PaymentTypeField()
    providerAmount = serializers.CharField(
        allow_null=True, help_text="What the provider bills (Tele.Store: TUSD), decimal string."
    )
    providerCurrency = serializers.CharField()
    exchangeRate = serializers.CharField(
        allow_null=True, help_text="TUSD per unit of `currency` used for this payment."
    )
    successUrl = serializers.CharField()
    errorUrl = serializers.CharField()
    postbackUrl = serializers.CharField(help_text="Empty when none was given.")
    url = serializers.URLField(help_text="The link to send the shopper to.")
    createdAt = serializers.DateTimeField()
    updatedAt = serializers.DateTimeField()
    postback = PostbackStateSerializer(allow_null=True, help_text="The latest postback, if any.")


PAYMENT_EXAMPLE = {
    "paymentId": EXAMPLE_PAYMENT_ID,
    "id": "sddc",
    "status": "succeeded",
    "test": False,
    "amount": "100",
    "currency": "USD",
    "type": "fiat",
    "providerAmount": "92.5",
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
            response=INIT_ANSWER,
            description="Created. Send the shopper to `url`.",
            examples=[OpenApiExample("created", value=INIT_ANSWER_EXAMPLE, status_codes=["201"])],
        ),
        200: OpenApiResponse(
            response=INIT_ANSWER,
            description="A repeated request (same `id` or `Idempotency-Key`, same fields): "
            "the first answer again; the provider is not called again.",
            examples=[OpenApiExample("replayed", value=INIT_ANSWER_EXAMPLE, status_codes=["200"])],
        ),
        **{status: _error(status) for status in (400, 401, 403, 406, 409, 413, 415, 429)},
        **{status: _error(status) for status in (502, 503, 504)},
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
        **{status: _error(status) for status in (401, 403, 404, 406, 429)},
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
        **{status: _error(status) for status in (400, 401, 403, 406, 429)},
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
                    "deliveryStatus": DeliveryStatusField(),
                },
            ),
            description="Queued.",
        ),
        **{status: _error(status) for status in (401, 403, 404, 406, 429)},
        409: _error(409, ["not_final", "no_postback_url"]),
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
        **{status: _error(status) for status in (400, 401, 403, 406, 415, 429)},
    },
)
