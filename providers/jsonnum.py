"""Decimal amounts as JSON numbers, the form the providers' documents show."""

from __future__ import annotations

from decimal import Decimal


def json_number(value: Decimal) -> int | float | str:
    """Return `value` as an int or float when that is exact, else as a decimal string.

    Fiat amounts (at most 12 integer and 3 decimal digits) always round-trip through a
    float's shortest repr; only very long crypto amounts fall back to a string, which both
    providers' parsers are assumed to accept (to confirm with their documents).
    """
    if value == value.to_integral_value():
        return int(value)
    as_float = float(value)
    if Decimal(repr(as_float)) == value:
        return as_float
    return format(value, "f")
