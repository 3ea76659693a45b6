"""Celery application: tasks live in a `tasks.py` beside the services they call, and stay thin.

Two small pieces keep the processes alive through the faults every deployment meets:
- `RedisTransport` (the broker transport whenever the broker is Redis) works around a
  kombu 5.7.0 crash that killed the worker for good when Redis dropped;
- `PersistentScheduler` (beat's scheduler) creates the folder of its schedule file, so
  beat starts from a fresh checkout.
"""

from __future__ import annotations

import os
from pathlib import Path

from celery import Celery
from celery.beat import PersistentScheduler as _PersistentScheduler
from kombu.transport import redis as kombu_redis

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


class PersistentScheduler(_PersistentScheduler):
    """Celery's file-backed beat scheduler that creates its schedule file's folder."""

    def _open_schedule(self):
        Path(self.schedule_filename).parent.mkdir(parents=True, exist_ok=True)
        return super()._open_schedule()


app = Celery("apaygate")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["payments", "payments.delivery", "reporting.export"])
