"""`GET /healthz`: can this instance reach its database, cache and broker?

The body also carries a `providers` section (this process's circuit breakers: closed, open or
half_open) and an `export` section (BigQuery backlog and lag). It is detail for
operators and never turns the answer into a 503: BigQuery being off or down delays
analytics, it does not stop payments.
"""

from __future__ import annotations

import logging
import time
import uuid

from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache

from apaygate.celery import app
from providers.breaker import breakers_snapshot
from reporting.export.services import export_status

logger = logging.getLogger(__name__)


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_cache() -> None:
    key = f"healthz:{uuid.uuid4().hex}"
    cache.set(key, "1", 10)
    if cache.get(key) != "1":
        raise RuntimeError("cache did not return what was written")
    cache.delete(key)


def _check_broker() -> None:

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)


CHECKS = {"database": _check_database, "cache": _check_cache, "broker": _check_broker}


def run_checks() -> dict[str, dict]:
    """Run every check and time it; a failing check reports its error class, not secrets."""
    results: dict[str, dict] = {}
    for name, check in CHECKS.items():
        started = time.monotonic()
        try:
            check()
        except Exception as exc:
            logger.warning("health check %s failed: %s", name, type(exc).__name__)
            results[name] = {"ok": False, "error": type(exc).__name__}
        else:
            results[name] = {"ok": True}
        results[name]["ms"] = round((time.monotonic() - started) * 1000, 1)
    return results


def export_detail() -> dict:
    """Describe the BigQuery export backlog; an error here is reported, never fatal."""

    try:
        return export_status()
    except Exception as exc:
        logger.warning("health export detail failed: %s", type(exc).__name__)
        return {"error": type(exc).__name__}


@never_cache
def healthz(request):
    checks = run_checks()
    healthy = all(c["ok"] for c in checks.values())
    body = {"status": "ok" if healthy else "unavailable", "checks": checks}
    # An open breaker is a provider's outage, not this instance's: it never makes a 503.
    body["providers"] = breakers_snapshot()
    if checks["database"]["ok"]:
        body["export"] = export_detail()
    return JsonResponse(body, status=200 if healthy else 503)
