"""Celery application: tasks live in a `tasks.py` beside the services they call, and stay thin.

Two small pieces keep the processes alive through the faults every deployment meets:
- `RedisTransport` (the broker transport whenever the broker is Redis) works around a
  kombu 5.7.0 crash that killed the worker for good when Redis dropped;
- beat's scheduler (apaygate/beat.py) creates the folder of its schedule file, so beat
  starts from a fresh checkout.
"""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import worker_ready
from kombu.transport import redis as kombu_redis

from foundation import request_id
from foundation.liveness import liveness_keep

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "apaygate.settings")


class _RedisChannel(kombu_redis.Channel):
    def _connparams(self, asynchronous=False):
        # kombu 5.7.0 (the newest release): when the worker loses Redis it closes the
        # connection, which detaches the transport (`client = None`) and then closes the
        # channel, which tries to restore the unacked messages through a new client built
        # from `transport.client`: AttributeError ('NoneType' … 'hostname'), which Celery
        # treats as unrecoverable, so the worker exits. Raising a connection error instead
        # lets kombu's own handling ignore it and Celery reconnect. Nothing is lost: the
        # messages stay in Redis's unacked set, and the outbox in PostgreSQL is the truth.
        if self.connection.client is None:
            raise kombu_redis.redis.exceptions.ConnectionError("broker connection closed")
        return super()._connparams(asynchronous=asynchronous)


class RedisTransport(kombu_redis.Transport):
    """kombu's Redis transport, surviving the loss of Redis (see `_RedisChannel`)."""

    Channel = _RedisChannel


app = Celery("apaygate")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(
    ["payments", "payments.delivery", "payments.shopper", "reporting.export", "reporting.portal"]
)

# Tasks run under the id of the request that queued them (logs, outbound X-Request-ID).
request_id.connect_celery_signals()


@worker_ready.connect
def _serve_worker_metrics(**_: object) -> None:
    """Serve the worker's own metrics on WORKER_METRICS_PORT (deliveries counted in tasks)."""
    # Imported when the worker is ready, not at module import: this module is loaded before
    # Django's apps are, and the metrics module reads models.
    from apaygate.metrics import metrics_start_worker_server
    from foundation.db_pool import db_pool_metrics_start

    metrics_start_worker_server()
    db_pool_metrics_start()


@worker_ready.connect
def _liveness_start(**_kwargs) -> None:
    """Start touching the liveness file the image's health check reads for this role."""
    liveness_keep()
