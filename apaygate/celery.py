"""Celery application: tasks live in a `tasks.py` beside the services they call, and stay thin."""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import worker_ready

from apaygate import request_id

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "apaygate.settings")

app = Celery("apaygate")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["payments", "payments.delivery", "reporting.export"])

# Tasks run under the id of the request that queued them (logs, outbound X-Request-ID).
request_id.connect_celery_signals()


@worker_ready.connect
def _serve_worker_metrics(**_: object) -> None:
    """Serve the worker's own metrics on WORKER_METRICS_PORT (deliveries counted in tasks)."""
    # Imported when the worker is ready, not at module import: this module is loaded before
    # Django's apps are, and the metrics module reads models.
    from apaygate.metrics import metrics_start_worker_server

    metrics_start_worker_server()
