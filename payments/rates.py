"""Setting exchange rates to TUSD: each change is a new row (history) and an audit entry."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from payments.audit import audit_record
from payments.models import ExchangeRate


class ExchangeRateError(ValueError):
    """A rate the gateway cannot use, worded for the operator."""


@transaction.atomic
def exchange_rate_set(
    *, currency: str, rate_to_tusd: Decimal, note: str = "", set_by=None, actor: str
) -> ExchangeRate:
    """Put a new rate in force; older rows stay as history and are never edited.

    Payments store the rate they were converted with, so changing it here never changes
    what an existing payment billed.
    """
    code = currency.strip().upper()
    if not code:
        raise ExchangeRateError("give a currency code")
    if rate_to_tusd <= 0:
        raise ExchangeRateError("the rate must be greater than 0")
    previous = (
        ExchangeRate.objects.filter(currency=code)
        .order_by("-created_at", "-pk")
        .values_list("rate_to_tusd", flat=True)
        .first()
    )
    rate = ExchangeRate.objects.create(
        currency=code, rate_to_tusd=rate_to_tusd, note=note, set_by=set_by
    )
    audit_record(
        actor=actor,
        action="exchange_rate.set",
        target=f"currency:{code}",
        changes={
            "rate_to_tusd": {
                "old": None if previous is None else str(previous),
                "new": str(rate_to_tusd),
            },
            "note": note,
        },
    )
    return rate
