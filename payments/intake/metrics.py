"""Counting provider postbacks that never got past verification (a sampled log line too)."""

from __future__ import annotations

import logging
import threading
import time

from foundation.instruments import UNVERIFIED_POSTBACKS

logger = logging.getLogger("payments.intake")

# At most one log line per provider per this many seconds, per process.
LOG_INTERVAL_SECONDS = 60.0
_last_logged: dict[str, float] = {}
_lock = threading.Lock()


def unverified_postback_count(*, provider: str, code: str, body_bytes: int) -> None:
    """Count an unverified postback and log a sample of them.

    Anyone can send these, as fast as they like: a row per request would let them fill
    the events table and the BigQuery export, so the count is a metric and the log is
    sampled. The line carries how many were suppressed since the previous one.
    """
    UNVERIFIED_POSTBACKS.labels(provider=provider).inc()
    now = time.monotonic()
    with _lock:
        last = _last_logged.get(provider)
        if last is not None and now - last < LOG_INTERVAL_SECONDS:
            return
        _last_logged[provider] = now
    logger.warning(
        "%s postback refused before verification: %s (%d bytes); "
        "further ones are counted in apaygate_unverified_postbacks_total, logged once a minute",
        provider,
        code,
        body_bytes,
    )
