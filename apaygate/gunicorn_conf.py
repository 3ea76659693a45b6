"""The web server's configuration: gunicorn supervising uvicorn (ASGI) workers.

    gunicorn apaygate.asgi:application -c apaygate/gunicorn_conf.py

Each worker process is an event loop in front of Django's two thread pools (see
apaygate/asgi.py): the redirect's fast lane on the loop, init-payment in the `provider`
pool, everything else in the `general` pool, so a request waiting on a provider never holds
a thread that shoppers or providers need. Figures: bench/ and ARCHITECTURE.md.

Environment: PORT (8000), WEB_CONCURRENCY (worker processes; default: one per CPU this
process may use, the container's CPU limit included),
WEB_THREADS (general pool per process, 8), WEB_PROVIDER_THREADS (provider-bound pool per
process, 32), WEB_TIMEOUT (seconds a worker may stay silent before it is restarted),
WEB_GRACEFUL_TIMEOUT (on SIGTERM: seconds to finish the requests in flight, 20 by default,
enough for an init-payment's provider call (connect 5 + read 15); the orchestrator's stop
grace, compose's `stop_grace_period`, must be longer), WEB_BIND; each pool's queue bound
and queue-time budget (WEB_*_QUEUE_MAX, WEB_*_QUEUE_BUDGET: past them a request is answered
503 at once, apaygate/pools.py). PostgreSQL connections come from a pool of at most
DATABASE_POOL_MAX_SIZE per worker process (foundation/db_pool.py; the max_connections budget
is in deploy/README.md).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

# cgroup v2, then v1: where a container's CPU limit (`docker run --cpus`, compose `cpus`) is.
CGROUP_V2_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")
CGROUP_V1_QUOTA = Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us")
CGROUP_V1_PERIOD = Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us")


def cpu_limit() -> int:
    """Return the CPUs this process may use: its affinity, capped by a cgroup CPU quota.

    `os.cpu_count()` is the host's cores: a container limited to 1 CPU on a 16-core host
    would start 16 workers that share one CPU.
    """
    affinity = getattr(os, "sched_getaffinity", None)  # Linux only
    cpus = len(affinity(0)) if affinity else os.cpu_count() or 1
    try:
        if CGROUP_V2_CPU_MAX.exists():
            quota, period = CGROUP_V2_CPU_MAX.read_text().split()[:2]
        else:
            quota, period = CGROUP_V1_QUOTA.read_text(), CGROUP_V1_PERIOD.read_text()
        if quota.strip() not in ("max", "-1"):
            cpus = min(cpus, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):
        pass  # no cgroup files (macOS, a bare checkout): the affinity is the answer
    return max(1, cpus)


bind = os.environ.get("WEB_BIND", f"0.0.0.0:{os.environ.get('PORT', '8000')}")
workers = int(os.environ.get("WEB_CONCURRENCY") or cpu_limit())
# uvicorn's worker, leaving the client address alone (apaygate/web_worker.py).
worker_class = "apaygate.web_worker.Worker"
timeout = int(os.environ.get("WEB_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("WEB_GRACEFUL_TIMEOUT", "20"))
keepalive = 5
accesslog = os.environ.get("WEB_ACCESS_LOG", "-") or None
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# No control socket (gunicornc is not used): by default it goes to the home folder, which is
# the image's read-only /app.
control_socket_disable = True


def on_starting(server):
    """Load the settings once in the master, so a configuration error stops the server.

    Otherwise each worker fails to boot (no SECRET_KEY, say), gunicorn starts another, for
    ever, and the container never exits. The settings module only reads the environment:
    nothing is connected before the fork.
    """
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "apaygate.settings")
    from django.conf import settings

    settings.SECRET_KEY  # noqa: B018 (loading the settings is the point)


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
    from foundation.db_pool import db_pool_metrics_start

    db_pool_metrics_start()
