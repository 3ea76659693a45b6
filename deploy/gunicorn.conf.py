"""Gunicorn hooks for `scripts/serve.sh web` (the options themselves are on its command line)."""

from __future__ import annotations

import os


def child_exit(server, worker):
    """Drop a dead worker's live gauges from the Prometheus multiprocess directory."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
