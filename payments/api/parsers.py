"""The API's JSON parser: exact decimals, a size limit, and strict JSON (providers/parsing.py)."""

from __future__ import annotations

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from payments.api.errors import PayloadTooLarge
from providers.parsing import strict_json_loads


class StrictJSONParser(JSONParser):
    """Parse JSON numbers as `Decimal` (amounts stay exact) and refuse bodies over the limit.

    Django enforces DATA_UPLOAD_MAX_MEMORY_SIZE only on `request.body`, which DRF does not
    use, so the limit is checked here on what is actually read. Duplicate keys, NaN,
    Infinity and nesting too deep for the parser are a 400, never a guess or a 500.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.API_MAX_BODY_BYTES
        request = (parser_context or {}).get("request")
        try:
            declared = int((request.META.get("CONTENT_LENGTH") or 0) if request else 0)
        except ValueError:
            declared = 0
        if declared > limit:
            raise PayloadTooLarge(limit)
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise PayloadTooLarge(limit)
        try:
            # Strings are checked per field (inputs.py): the API ignores unknown fields,
            # so a NUL in one of those is no reason to refuse the request.
            return strict_json_loads(raw, check_strings=False)
        except UnicodeDecodeError:
            raise ParseError("JSON parse error: the body is not UTF-8.") from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error: {str(exc)[:200]}") from None
