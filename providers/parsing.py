"""Strict JSON reading, shared by the merchant API and the provider adapters.

`json.loads` as shipped lets hostile bodies through in ways that matter for money: the
last of two duplicate keys wins silently, `NaN`/`Infinity` and `1e400` become floats that
are not numbers, a 100,000-level nesting raises `RecursionError` (a 500), and a `\\u0000`
escape yields a string PostgreSQL refuses to store. `strict_json_loads` refuses all of
those with one `ValueError`, so every caller answers a 400 (or its own refusal).
"""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation

from providers.base import PostbackRejected

# Amounts as strings: ASCII digits with at most one dot. `Decimal()` alone also takes
# "1_000", Arabic-Indic and fullwidth digits, exponents and "NaN".
AMOUNT_STRING_RE = re.compile(r"[0-9]+(\.[0-9]+)?|\.[0-9]+")
# What the database columns hold (NUMERIC(20, 8)): a larger amount is not an amount.
MAX_AMOUNT_INTEGER_DIGITS = 12


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not allowed")


def _refuse_duplicates(pairs: list[tuple[str, object]]) -> dict:
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key[:40]!r}")
        out[key] = value
    return out


def check_strings_storable(data: object) -> None:
    """Refuse NUL characters and lone surrogates anywhere (PostgreSQL stores neither)."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            if "\x00" in item:
                raise ValueError("NUL characters are not allowed")
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("lone surrogate escapes are not allowed") from None


def strict_json_loads(raw: bytes | str, *, check_strings: bool = True) -> object:
    """Parse JSON exactly: numbers as `Decimal`, no NaN/Infinity, no duplicate keys.

    Raise `ValueError` for anything else too: bytes that are not UTF-8, nesting too
    deep for the parser, and (unless `check_strings` is off, for callers that check the
    fields they keep) NUL characters and lone surrogates.
    """
    text = raw.decode("utf-8") if isinstance(raw, bytes | bytearray) else raw
    try:
        data = json.loads(
            text,
            parse_float=Decimal,
            parse_constant=_refuse_constant,
            object_pairs_hook=_refuse_duplicates,
        )
    except RecursionError:
        raise ValueError("nested too deeply") from None
    if check_strings:
        check_strings_storable(data)
    return data


def json_object(body: bytes) -> dict:
    """Parse a (verified) postback body as one JSON object, strictly."""
    try:
        data = strict_json_loads(body)
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        reason = str(exc) if not isinstance(exc, UnicodeDecodeError) else "not UTF-8"
        raise PostbackRejected(
            f"body is not strict JSON: {reason[:120]}", code="malformed"
        ) from None
    if not isinstance(data, dict):
        raise PostbackRejected("body is not a JSON object", code="malformed")
    return data


def decimal_or_none(value: object) -> Decimal | None:
    """Read a postback amount (number or string); refuse what is not a storable amount."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | str | Decimal):
        raise PostbackRejected("amount is not a number", code="invalid_amount")
    if isinstance(value, str) and not AMOUNT_STRING_RE.fullmatch(value):
        raise PostbackRejected("amount is not a decimal number", code="invalid_amount")
    try:
        amount = Decimal(value) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise PostbackRejected("amount is not a number", code="invalid_amount") from None
    if not amount.is_finite() or amount < 0 or amount.adjusted() >= MAX_AMOUNT_INTEGER_DIGITS:
        raise PostbackRejected("amount is out of range", code="invalid_amount")
    return amount
