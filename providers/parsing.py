"""Small parsers for postback bodies, shared by the adapters."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation

from providers.base import PostbackRejected


def json_object(body: bytes) -> dict:
    try:
        data = json.loads(body)
    except ValueError:
        raise PostbackRejected("body is not JSON", code="malformed") from None
    if not isinstance(data, dict):
        raise PostbackRejected("body is not a JSON object", code="malformed")
    return data


def decimal_or_none(value: object) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise PostbackRejected("amount is not a number", code="malformed") from None
