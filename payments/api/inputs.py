"""Validation of `POST /api/v1/init-payment`: both seeds' spellings, one canonical result.

The serializer only checks shapes and rules that need no database; the service decides
what needs the merchant (provider rules, exchange rates, idempotency).
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import re
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit

from django.conf import settings
from rest_framework import serializers
from rest_framework.utils.serializer_helpers import BindingDict

from foundation.http import url_host_is_refused
from payments.currencies import currency_lookup
from payments.models import PaymentType
from providers.parsing import AMOUNT_STRING_RE, check_strings_storable

logger = logging.getLogger(__name__)

# alias -> canonical field name (the Bansky seed's spellings, including its `sussessUrl`).
ALIASES = {"email": "customerEmail", "name": "customerName", "sussessUrl": "successUrl"}
MAX_INTEGER_DIGITS = 12
MAX_URL_LENGTH = 2048

# The URL grammar we accept, shared with the OpenAPI schema (payments/api/schema.py) so the
# two cannot drift. In production: https, a DNS name with an alphabetic top-level label,
# an optional port, then no whitespace or control characters. No user-info part (so no
# credentials in URLs) and no IP literals: certificates are issued to names, and a name
# is what the address rules can check again at every delivery. With DEBUG on (local
# development), plain http, `localhost` and IP literals are accepted too.
SPACE_CLASS = r"\t-\r \x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_NAME = rf"{_LABEL}(\.{_LABEL})*\.[A-Za-z]{{2,24}}"
_DEV_HOST = rf"({_NAME}|localhost|[0-9]{{1,3}}(\.[0-9]{{1,3}}){{3}}|\[[0-9A-Fa-f:.]{{2,45}}\])"
_PORT = r"(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4})"
_TAIL = rf"(:{_PORT})?([/?#][^{SPACE_CLASS}\x00-\x1f\x7f]*)?$"
MERCHANT_URL_PATTERN = rf"^https://{_NAME}{_TAIL}"
DEV_URL_PATTERN = rf"^https?://{_DEV_HOST}{_TAIL}"
_MERCHANT_URL_RE = re.compile(MERCHANT_URL_PATTERN)
_DEV_URL_RE = re.compile(DEV_URL_PATTERN)


def canonicalize(data: dict) -> dict:
    """Map aliases onto canonical names; the canonical spelling wins when both are sent."""
    out = dict(data)
    for alias, canonical in ALIASES.items():
        if alias in out:
            value = out.pop(alias)
            out.setdefault(canonical, value)
    return out


class MerchantUrlField(serializers.CharField):
    """An absolute http(s) URL; https only when DEBUG is off."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", MAX_URL_LENGTH)
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        _refuse_unstorable(value)
        grammar = _DEV_URL_RE if settings.DEBUG else _MERCHANT_URL_RE
        # fullmatch, not match: the pattern ends in `$`, which also matches before a
        # trailing newline ("…/ok\n" was stored and redirected to as `ok%0A`).
        if not grammar.fullmatch(value) or not _parses(value):
            need = (
                "an absolute http(s) URL"
                if settings.DEBUG
                else "an absolute https URL with a DNS host name"
            )
            raise serializers.ValidationError(f"Must be {need}.", code="invalid_url")
        return value


class PostbackUrlField(MerchantUrlField):
    """A merchant URL the gateway will POST to: also never on an internal address.

    A name that does not resolve now is accepted; every delivery checks the address it
    actually connects to (foundation/http.py), unless POSTBACK_ALLOW_PRIVATE is on.
    """

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not settings.POSTBACK_ALLOW_PRIVATE and url_host_is_refused(value):
            raise serializers.ValidationError(
                "Points to a private, loopback, link-local or reserved address.",
                code="refused_address",
            )
        return value


def _refuse_unstorable(value: str) -> None:
    """Refuse NUL characters and lone surrogates, which PostgreSQL cannot store."""
    try:
        check_strings_storable(value)
    except ValueError as exc:
        raise serializers.ValidationError(f"Not storable text: {exc}.", code="invalid") from None


def _parses(url: str) -> bool:
    """Reject what matches the grammar but no URL parser takes (`[FBf0]`, port 99999)."""
    try:
        parts = urlsplit(url)
        host, _port = parts.hostname, parts.port
        if host and ":" in host:
            ipaddress.IPv6Address(host)
    except ValueError:
        return False
    return True


class AmountField(serializers.Field):
    """A decimal > 0 given as a JSON number or a string; digits are checked per currency later.

    A string is ASCII digits with at most one dot: `Decimal()` alone would also take
    "1_000", Arabic-Indic or fullwidth digits, exponents and surrounding spaces.
    """

    default_error_messages = {"invalid": "Must be a decimal number greater than 0."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | str | Decimal):
            self.fail("invalid")
        if isinstance(data, str) and not AMOUNT_STRING_RE.fullmatch(data):
            self.fail("invalid")
        try:
            value = data if isinstance(data, Decimal) else Decimal(data)
        except InvalidOperation:
            self.fail("invalid")
        if not value.is_finite() or value <= 0:
            self.fail("invalid")
        return value

    def to_representation(self, value):
        return format(value, "f")


class InitPaymentInput(serializers.Serializer):
    id = serializers.CharField(max_length=128, required=False, trim_whitespace=True)
    customerEmail = serializers.EmailField(max_length=254, required=False)
    customerName = serializers.CharField(max_length=256, required=False, allow_blank=True)
    amount = AmountField()
    currency = serializers.CharField(max_length=16, required=False)
    type = serializers.ChoiceField(choices=PaymentType.choices, required=False)
    successUrl = MerchantUrlField()
    errorUrl = MerchantUrlField()
    postbackUrl = PostbackUrlField(required=False)

    @property
    def fields(self) -> BindingDict:
        """The fields, built once per process instead of deep-copied for every request.

        DRF deep-copies every declared field for each serializer instance (so that a
        form can change its own); profiled under init-payment load that copy was most of
        the validation's CPU. These fields keep no per-request state, so one bound set,
        built by DRF's own steps, validates every request: the same checks, the same
        messages and codes.
        """
        return _fields_of(type(self))

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError(
                {"non_field_errors": ["Send a JSON object."]}, code="invalid"
            )
        data = canonicalize(data)
        unknown = sorted(set(data) - set(self.fields))
        if unknown:
            # Ignored, as merchants add fields over time; logged by name only (values may be PII).
            logger.info("init-payment: ignoring unknown fields %s", ", ".join(unknown[:20]))
        known = {
            k: _integral_as_int(v) if k in DIGIT_FIELDS else v
            for k, v in data.items()
            if k in self.fields
        }
        errors = {}
        for key, value in known.items():
            try:
                check_strings_storable(value)
            except ValueError as exc:
                errors[key] = [f"Not storable text: {exc}."]
        if errors:
            raise serializers.ValidationError(errors, code="invalid")
        return super().to_internal_value(known)

    def validate_currency(self, value: str) -> str:
        info = currency_lookup(value)
        if info is None:
            raise serializers.ValidationError(
                "Not an ISO 4217 code, a supported crypto code, or TeleUSD/TUSD.",
                code="invalid_currency",
            )
        return info.code

    def validate(self, attrs):
        currency = attrs.get("currency")
        if currency:
            info = currency_lookup(currency)
            _check_amount_digits(attrs["amount"], info.digits)
            if attrs.get("type") and attrs["type"] != info.kind:
                raise serializers.ValidationError(
                    {"type": [f"{currency} is {info.kind}, not {attrs['type']}."]},
                    code="type_mismatch",
                )
            attrs["type"] = info.kind
        return attrs


@functools.cache
def _fields_of(serializer_class: type[serializers.Serializer]) -> BindingDict:
    """The serializer's declared fields, deep-copied and bound once, as `Serializer.fields`
    does per instance, to an instance that holds no request data."""
    template = serializer_class()
    fields = BindingDict(template)
    for name, field in template.get_fields().items():
        fields[name] = field
    return fields


# Text fields that also take a JSON integer, as its digits (the seeds sent numeric ids).
DIGIT_FIELDS = frozenset({"id", "customerName"})


def _integral_as_int(value: object) -> object:
    """Read `12.0` as the integer 12: JSON (and OpenAPI 3.1) make no difference between them.

    The parser gives exact Decimals for numbers with a fraction or exponent; a whole one is
    the same integer a client meant, a fractional one stays a Decimal and is refused.
    """
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)
    return value


def _check_amount_digits(amount: Decimal, digits: int) -> None:
    _sign, digit_tuple, exponent = amount.normalize().as_tuple()
    decimals = max(0, -exponent)
    integer_digits = max(0, len(digit_tuple) + exponent)
    if decimals > digits:
        raise serializers.ValidationError(
            {"amount": [f"At most {digits} decimal places for this currency."]},
            code="invalid_amount",
        )
    if integer_digits > MAX_INTEGER_DIGITS:
        raise serializers.ValidationError(
            {"amount": [f"At most {MAX_INTEGER_DIGITS} integer digits."]}, code="invalid_amount"
        )
