"""Currency rules: ISO 4217 codes and minor units (from the `iso4217` package), crypto, TUSD."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

import iso4217

# Tele.Store's own unit. Merchants may write it `TeleUSD` or `TUSD`; we store `TUSD`.
TELE_USD = "TUSD"
TELE_USD_ALIASES = {"TUSD": TELE_USD, "TELEUSD": TELE_USD}
TELE_USD_DIGITS = 2

# Crypto codes the providers accept (to widen when Bansky publishes its list). 8 digits.
CRYPTO_CODES = frozenset(
    {"BTC", "ETH", "USDT", "USDC", "LTC", "TRX", "TON", "BNB", "SOL", "XRP", "DOGE"}
)
CRYPTO_DIGITS = 8

# ISO 4217 entries that are not money a shopper can pay with (funds codes, gold, testing).
_NOT_PAYABLE = frozenset(
    {"XXX", "XTS", "XAU", "XAG", "XPD", "XPT", "XDR", "XBA", "XBB", "XBC", "XBD", "XSU", "XUA"}
)


@dataclass(frozen=True)
class CurrencyInfo:
    code: str
    digits: int
    kind: str  # "fiat" or "crypto"; TUSD counts as fiat


def _iso_digits(code: str) -> int | None:
    try:
        currency = iso4217.Currency(code)
    except ValueError:
        return None
    exponent = currency.exponent
    return exponent if exponent is not None else None


def currency_lookup(raw: str) -> CurrencyInfo | None:
    """Return the rules for a currency code, or None when it is not one we take."""
    code = raw.strip().upper()
    if code in TELE_USD_ALIASES:
        return CurrencyInfo(code=TELE_USD, digits=TELE_USD_DIGITS, kind="fiat")
    if code in CRYPTO_CODES:
        return CurrencyInfo(code=code, digits=CRYPTO_DIGITS, kind="crypto")
    if len(code) != 3 or not code.isalpha() or code in _NOT_PAYABLE:
        return None
    digits = _iso_digits(code)
    if digits is None:
        return None
    return CurrencyInfo(code=code, digits=digits, kind="fiat")


def amount_digits(currency: str) -> int:
    """Return how many minor-unit digits `currency` is written with (2 when unknown)."""
    info = currency_lookup(currency) if currency else None
    return info.digits if info else 2


def amount_format(amount: Decimal | int | str, currency: str) -> str:
    """Write an amount with its currency's minor-unit digits ("100.00", "1500", "0.00150000").

    The one amount formatter: API answers, postbacks, portal pages, CSV, admin and the
    BigQuery string columns all call it, so a merchant sees the same string everywhere.
    Exact for stored amounts (they already have at most these digits); anything finer is
    rounded half-even, as Decimal does by default.
    """
    value = amount if isinstance(amount, Decimal) else Decimal(str(amount))
    digits = amount_digits(currency)
    return format(value.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_EVEN), "f")
