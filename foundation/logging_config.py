"""Logging: JSON lines in production, readable lines in development, no secrets in either.

`build_logging()` returns the LOGGING dict for settings.py. Both filters sit on the
handler, not on a logger, so they see every record that reaches it, including those that
propagate from Django, Celery and library loggers:

- `RequestIdFilter` puts the current request (or task) id on each record (`request_id`,
  "-" outside of one);
- `MaskingFilter` rewrites the message, its arguments, extra fields and exception text so
  that API tokens (`apg_live_…`, `apg_test_…`), webhook secrets (`whsec_…`), webhook
  signatures (`v1,…`), Authorization header values and e-mail addresses never reach the
  output.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from foundation.request_id import get_request_id

MASK = "***"

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Authorization header values, as a header line, a dict entry or a WSGI key.
    (
        re.compile(
            r"""(?i)((?:HTTP_)?Authorization['"]?\s*[:=]\s*['"]?)"""
            r"""(?:(?:Token|Bearer|Basic)\s+)?[^\s'",}]+"""
        ),
        rf"\1{MASK}",
    ),
    (re.compile(r"\b(Bearer|Token|Basic)\s+[A-Za-z0-9._~+/=-]{8,}"), rf"\1 {MASK}"),
    (re.compile(r"\bapg_(live|test)_[A-Za-z0-9_-]+"), rf"apg_\1_{MASK}"),
    (re.compile(r"\bwhsec_[A-Za-z0-9+/=_-]+"), f"whsec_{MASK}"),
    # Standard Webhooks signatures: "v1,<base64>", several separated by spaces.
    (re.compile(r"\bv1,[A-Za-z0-9+/=]{16,}"), f"v1,{MASK}"),
    # E-mail addresses: the domain is kept, it tells merchants apart without naming anyone.
    (
        re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)"),
        rf"{MASK}@\1",
    ),
)

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "request_id",
}


def mask_secrets(text: str) -> str:
    """Return `text` with tokens, secrets, signatures, credentials and e-mails masked."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RequestIdFilter(logging.Filter):
    """Add `request_id` (the current request's or task's, "-" outside one) to records."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = get_request_id() or "-"
        return True


class MaskingFilter(logging.Filter):
    """Mask secrets and personal data in a record before any handler formats it."""

    _exception_formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            # A broken format string: keep the raw parts, masked, rather than lose the line.
            message = f"{record.msg!s} {record.args!r}"
        record.msg, record.args = mask_secrets(message), None
        if record.exc_info:
            # Formatters reformat exc_info when it is there; keep only the masked text.
            record.exc_text = mask_secrets(
                self._exception_formatter.formatException(record.exc_info)
            )
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = mask_secrets(record.exc_text)
        for key, value in list(vars(record).items()):
            if key in _RECORD_ATTRS or value is None or isinstance(value, bool | int | float):
                continue
            # Objects (a request passed by django.request) are rendered as text anyway.
            setattr(record, key, mask_secrets(value if isinstance(value, str) else str(value)))
        return True


def build_logging(
    *, json: bool, level: str = "INFO", loggers: dict[str, str] | None = None
) -> dict[str, Any]:
    """Return the LOGGING dict: JSON lines when `json`, else one readable line per record.

    `loggers` sets the level of named loggers (`{"celery.beat": "WARNING"}`), for example to
    keep a periodic task's "received / succeeded" lines off a developer's console.
    """
    formatter = "json" if json else "plain"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_id": {"()": "foundation.logging_config.RequestIdFilter"},
            "mask": {"()": "foundation.logging_config.MaskingFilter"},
        },
        "formatters": {
            "plain": {
                "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
            },
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s",
                "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
                "datefmt": "%Y-%m-%dT%H:%M:%S%z",
            },
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": formatter,
                # Order matters: the id first, then masking of everything on the record.
                "filters": ["request_id", "mask"],
            },
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django.db.backends": {"level": "WARNING"},
            **{name: {"level": value.upper()} for name, value in (loggers or {}).items()},
        },
    }
