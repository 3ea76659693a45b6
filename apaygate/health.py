"""`GET /healthz` (liveness) and `GET /readyz` (readiness), as load balancers expect.

`/healthz` answers whether this process serves requests at all: cheap, no dependency
checked, so an orchestrator never restarts a healthy process because Redis blipped.
`/readyz` checks the database, the cache, the broker and that every migration is applied.
Only the database and the migrations make it a 503: the cache and the broker are
accelerators (the KV falls back to the database, due postbacks are claimed from PostgreSQL),
so taking every instance out of the load balancer while Redis is away would turn a slower
gateway into no gateway. They are reported as `degraded` instead.

`/readyz` also shows this process's PostgreSQL pool (`database_pool`: connections open, in
use, idle, the maximum, requests waiting and timed out; absent without a pool) and an
`export` section (BigQuery backlog and lag): detail for operators,
never a 503 (BigQuery being down delays analytics, it does not stop payments).
"""

from __future__ import annotations

import logging
import time
import uuid

from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import JsonResponse
from django.views.decorators.cache import never_cache

from apaygate.celery import app
from foundation.db_pool import db_pool_use
from providers.breaker import breakers_snapshot
from reporting.export.status import export_status

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


def _check_migrations() -> None:
    executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
    unapplied = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if unapplied:
        raise RuntimeError(f"{len(unapplied)} migrations not applied")


CHECKS = {
    "database": _check_database,
    "migrations": _check_migrations,
    "cache": _check_cache,
    "broker": _check_broker,
}
# Without these the instance cannot serve payments; the others only make it slower.
REQUIRED = frozenset({"database", "migrations"})


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
    """Liveness: the process is up and answering (no dependency is touched).

    It also shows this process's provider circuit breakers (in memory, no I/O): an open
    breaker is a provider's outage, not this instance's, so it never makes a 503.
    """
    return JsonResponse({"status": "ok", "providers": breakers_snapshot()})


@never_cache
def readyz(request):
    """Readiness: 200 while the database and schema are usable, else 503."""
    checks = run_checks()
    ready = all(checks[name]["ok"] for name in REQUIRED)
    degraded = not all(c["ok"] for c in checks.values())
    status = "unavailable" if not ready else "degraded" if degraded else "ok"
    body = {"status": status, "checks": checks}
    pool = db_pool_use()
    if pool is not None:
        body["database_pool"] = pool
    if checks["database"]["ok"]:
        body["export"] = export_detail()
    return JsonResponse(body, status=200 if ready else 503)
