"""How the export is doing: its backlog and lag (for /readyz, the admin and metrics) and the
run state it keeps between beat ticks (consecutive failures, backoff, last error).

The state lives in the cache: losing it (Redis away) only forgets the backoff, never an
event, since `PaymentEvent.exported_at` in PostgreSQL is the record of what was sent.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Min, Q
from django.utils import timezone

from payments.models import PaymentEvent

logger = logging.getLogger(__name__)

STATE_CACHE_KEY = "reporting:bigquery-export:state"


def export_state() -> dict[str, Any]:
    try:
        return cache.get(STATE_CACHE_KEY) or {}
    except Exception:  # the cache being down must not stop the export or /healthz
        logger.warning("bigquery export state unreadable from cache")
        return {}


def export_state_save(state: dict[str, Any]) -> None:
    try:
        cache.set(STATE_CACHE_KEY, state, timeout=None)
    except Exception:
        logger.warning("bigquery export state not saved to cache")


def bigquery_enabled() -> bool:
    """Tell whether export is configured; without a project, events simply wait.

    Here rather than in client.py: /healthz and the admin import this module in every web
    process, and client.py loads google-cloud-bigquery (about half of Django's start-up CPU).
    """
    return bool(settings.BIGQUERY_PROJECT)


def export_status(*, include_exported: bool = False) -> dict[str, Any]:
    """Summarise the export for /healthz and the admin: backlog, lag, errors, backoff.

    `lag_seconds` is the age of the oldest event still waiting: 0 when nothing waits.
    Counting exported rows scans the whole log, so only the admin asks for it.
    """
    pending = PaymentEvent.objects.filter(exported_at__isnull=True).aggregate(
        pending=Count("id"),
        with_errors=Count("id", filter=Q(export_attempts__gt=0)),
        oldest=Min("occurred_at"),
    )
    now = timezone.now()
    oldest: datetime | None = pending["oldest"]
    state = export_state()
    retry_at = state.get("retry_at") or 0
    status: dict[str, Any] = {
        "enabled": bigquery_enabled(),
        "pending": pending["pending"],
        "with_errors": pending["with_errors"],
        "oldest_pending_at": oldest.isoformat() if oldest else None,
        "lag_seconds": round((now - oldest).total_seconds(), 1) if oldest else 0.0,
        "consecutive_failures": int(state.get("failures", 0)),
        "retry_at": (
            datetime.fromtimestamp(retry_at, tz=UTC).isoformat() if retry_at > time.time() else None
        ),
        "last_error": state.get("last_error") if state.get("failures") else None,
        "last_success_at": state.get("last_success_at"),
    }
    if include_exported:
        status["exported"] = PaymentEvent.objects.filter(exported_at__isnull=False).count()
    return status


def export_lag(*, now: datetime | None = None) -> timedelta:
    """Return the age of the oldest un-exported event (zero when the queue is empty)."""
    oldest = PaymentEvent.objects.filter(exported_at__isnull=True).aggregate(m=Min("occurred_at"))
    if oldest["m"] is None:
        return timedelta(0)
    return (now or timezone.now()) - oldest["m"]
