"""The init-payment request schema: one variant per currency group.

So the decimals allowed in `amount` follow the currency, exactly as the API checks them.
"""

from __future__ import annotations

from collections import defaultdict

import iso4217
from drf_spectacular.extensions import (
    OpenApiSerializerExtension,
)
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework import serializers

from payments.api.inputs import MERCHANT_URL_PATTERN, SPACE_CLASS
from payments.api.openapi.extensions import MAX_INTEGER_DIGITS
from payments.currencies import CRYPTO_CODES, TELE_USD_ALIASES, currency_lookup

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
# Merchant URLs: the production rule payments/api/inputs.py enforces (DEBUG off).
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
