"""The web server's configuration: gunicorn supervising uvicorn (ASGI) workers.

    gunicorn apaygate.asgi:application -c apaygate/gunicorn_conf.py

Each worker process is an event loop in front of Django's two thread pools (see
apaygate/asgi.py): the redirect's fast lane on the loop, init-payment in the `provider`
pool, everything else in the `general` pool, so a request waiting on a provider never holds
a thread that shoppers or providers need. Figures: bench/ and ARCHITECTURE.md.

Environment: PORT (8000), WEB_CONCURRENCY (worker processes; default: one per core),
WEB_THREADS (general pool per process, 8), WEB_PROVIDER_THREADS (provider-bound pool per
process, 32), WEB_TIMEOUT (seconds a worker may stay silent before it is restarted),
WEB_BIND; each pool's queue bound and queue-time budget (WEB_*_QUEUE_MAX, WEB_*_QUEUE_BUDGET:
past them a request is answered 503 at once, apaygate/pools.py). PostgreSQL connections come
from a pool of at most DATABASE_POOL_MAX_SIZE per worker process (apaygate/db_pool.py; the
max_connections budget is in deploy/README.md).
"""

from __future__ import annotations

import multiprocessing
import os

bind = os.environ.get("WEB_BIND", f"0.0.0.0:{os.environ.get('PORT', '8000')}")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count()))
# uvicorn's worker, leaving the client address alone (apaygate/web_worker.py).
worker_class = "apaygate.web_worker.Worker"
timeout = int(os.environ.get("WEB_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
accesslog = os.environ.get("WEB_ACCESS_LOG", "-") or None
loglevel = os.environ.get("LOG_LEVEL", "info").lower()


def child_exit(server, worker):
    """Drop a dead worker's live gauges from the Prometheus multiprocess directory."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess  # only with multiprocess metrics on

        multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker):
    """Keep this worker's database-pool gauges current.

    Started here, in a serving process, rather than when apaygate.asgi is imported: an
    import (a test collecting the module, a management command) must not open a pool.
    """
    from apaygate.db_pool import db_pool_metrics_start

    db_pool_metrics_start()
