"""The process's PostgreSQL connection pool (Django's "pool" option, psycopg_pool): use and figures.

Every process (each web worker, the Celery worker, beat) opens at most
DATABASE_POOL_MAX_SIZE connections, however many threads it runs: a thread borrows one for
a request or a task and Django gives it back when the request or task ends (Celery's Django
fixup does the same for tasks; the delivery relay's threads return theirs at every batch).
`connection_release()` gives one back early, before a long wait that needs no database (a
provider call), so a thread waiting on a provider holds no connection.

A leaf like foundation.instruments: it imports nothing of ours but the instruments, so every
layer may use it.
"""

from __future__ import annotations

import logging
import threading

from django.db import DEFAULT_DB_ALIAS, connections

from foundation.instruments import (
    DB_POOL_CONNECTIONS,
    DB_POOL_MAX,
    DB_POOL_TIMEOUTS,
    DB_POOL_WAITING,
)

__all__ = [
    "connection_release",
    "db_pool_metrics_refresh",
    "db_pool_metrics_start",
    "db_pool_use",
]

logger = logging.getLogger(__name__)

# Seconds between two updates of a process's pool gauges: every web worker writes its own
# (prometheus multiprocess files), and a scrape reaches only one of them.
METRICS_INTERVAL = 5.0

_metrics_lock = threading.Lock()
_metrics = {"thread": None, "errors_seen": 0}


def _pool(alias: str = DEFAULT_DB_ALIAS):
    """The alias's pool, or None without one (SQLite, DATABASE_POOL off)."""
    return getattr(connections[alias], "pool", None)


def connection_release(alias: str = DEFAULT_DB_ALIAS) -> None:
    """Give this thread's connection back to the pool now, when pooled and not in a transaction.

    Without a pool it does nothing: closing a persistent connection would only cost a new one.
    The next query borrows a connection again (waiting up to DATABASE_POOL_TIMEOUT).
    """
    conn = connections[alias]
    if _pool(alias) is not None and not conn.in_atomic_block:
        conn.close()


def db_pool_use(alias: str = DEFAULT_DB_ALIAS) -> dict | None:
    """This process's pool: connections open, in use, idle, the maximum, requests waiting."""
    pool = _pool(alias)
    if pool is None:
        return None
    stats = pool.get_stats()
    size, idle = stats.get("pool_size", 0), stats.get("pool_available", 0)
    return {
        "max": stats.get("pool_max", pool.max_size),
        "open": size,
        "in_use": max(size - idle, 0),
        "idle": idle,
        "waiting": stats.get("requests_waiting", 0),
        "timeouts": stats.get("requests_errors", 0),
    }


def db_pool_metrics_refresh() -> None:
    """Set this process's pool gauges, and count the pool's failed requests since last time."""
    use = db_pool_use()
    if use is None:
        return
    DB_POOL_MAX.set(use["max"])
    DB_POOL_CONNECTIONS.labels(state="in_use").set(use["in_use"])
    DB_POOL_CONNECTIONS.labels(state="idle").set(use["idle"])
    DB_POOL_WAITING.set(use["waiting"])
    with _metrics_lock:
        new = use["timeouts"] - _metrics["errors_seen"]
        _metrics["errors_seen"] = use["timeouts"]
    if new > 0:
        DB_POOL_TIMEOUTS.inc(new)


def _refresh_forever() -> None:
    stop = threading.Event()
    while not stop.wait(METRICS_INTERVAL):
        try:
            db_pool_metrics_refresh()
        except Exception:  # figures only: never let them take anything down
            logger.warning("db pool: metrics refresh failed", exc_info=True)


def db_pool_metrics_start() -> None:
    """Keep this process's pool gauges current (a daemon thread); once per process, pooled only."""
    if _pool() is None:
        return
    with _metrics_lock:
        if _metrics["thread"] is not None:
            return
        thread = threading.Thread(target=_refresh_forever, name="db-pool-metrics", daemon=True)
        _metrics["thread"] = thread
    thread.start()
