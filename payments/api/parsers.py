"""The API's JSON parser: exact decimals, a size limit, and no NaN/Infinity."""

from __future__ import annotations

import json
from decimal import Decimal

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from payments.api.errors import PayloadTooLarge


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not allowed")


class StrictJSONParser(JSONParser):
    """Parse JSON numbers as `Decimal` (amounts stay exact) and refuse bodies over the limit.

    Django enforces DATA_UPLOAD_MAX_MEMORY_SIZE only on `request.body`, which DRF does not
    use, so the limit is checked here on what is actually read.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.API_MAX_BODY_BYTES
        request = (parser_context or {}).get("request")
        declared = int((request.META.get("CONTENT_LENGTH") or 0) if request else 0)
        if declared > limit:
            raise PayloadTooLarge(limit)
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise PayloadTooLarge(limit)
        try:
            return json.loads(
                raw.decode("utf-8"), parse_float=Decimal, parse_constant=_refuse_constant
            )
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"JSON parse error: {exc}") from None
