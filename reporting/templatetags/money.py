"""`{{ payment.amount|amount:payment.currency }}`: templates write amounts like the API does."""

from __future__ import annotations

from django import template

from payments.currencies import amount_format

register = template.Library()


@register.filter
def amount(value, currency: str) -> str:
    """Write `value` with `currency`'s minor units ("49.50", "1500"); empty for no value."""
    if value is None or value == "":
        return ""
    return amount_format(value, currency)
