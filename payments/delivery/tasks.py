"""Celery tasks for merchant postbacks: thin wrappers that call the delivery services.

Retries are not Celery's business here: each delivery keeps its own schedule in the
database, and `dispatch_due_deliveries` (beat, every couple of seconds) re-queues whatever
is due, so a lost message or a dead worker only delays a postback. Each worker also runs
a relay that claims due rows straight from PostgreSQL (payments/delivery/poller.py), so
delivery goes on while the broker is away. A task does not send: it hands its ids to that
relay and returns, so the pool's few threads never wait on a merchant.
"""

from __future__ import annotations

from celery import shared_task
from celery.signals import worker_init, worker_ready, worker_shutdown

from payments.delivery.attempts import delivery_attempt
from payments.delivery.outbox import (
    DELIVER_POSTBACK_TASK,
    DELIVER_POSTBACKS_TASK,
    DISPATCH_DUE_TASK,
    deliveries_dispatch_due,
)
from payments.delivery.poller import poller_running, poller_start, poller_stop


def _deliver(delivery_ids: list[int]) -> None:
    """Hand the ids to this worker's relay; without one (a prefork pool), attempt them here."""
    relay = poller_running()
    for delivery_id in delivery_ids:
        if relay is not None:
            relay.want(delivery_id)
        else:
            delivery_attempt(delivery_id=delivery_id)


@shared_task(name=DELIVER_POSTBACK_TASK, ignore_result=True)
def deliver_postback(delivery_id: int) -> None:
    """Make one attempt of one merchant postback (a no-op if it is not due)."""
    _deliver([delivery_id])


@shared_task(name=DELIVER_POSTBACKS_TASK, ignore_result=True)
def deliver_postbacks(delivery_ids: list[int]) -> None:
    """Make one attempt of each of these postbacks (the dispatcher's batches)."""
    _deliver(delivery_ids)


@shared_task(name=DISPATCH_DUE_TASK, ignore_result=True)
def dispatch_due_deliveries() -> int:
    """Queue every due postback delivery (claimed with SKIP LOCKED)."""
    return deliveries_dispatch_due()


@worker_init.connect
def start_postback_poller_early(sender=None, **_kwargs) -> None:
    """Start the outbox relay before the worker first connects to the broker.

    A worker (re)started while Redis is down then still delivers. Only for pools that run
    in this process: a prefork pool forks after this point, and a thread holding database
    connections must not be forked.
    """
    pool = str(getattr(sender, "pool_cls", "")).lower()
    if "thread" in pool or "solo" in pool:
        poller_start(name=str(getattr(sender, "hostname", "") or ""))


@worker_ready.connect
def start_postback_poller(sender=None, **_kwargs) -> None:
    """Start this worker's outbox relay once it is ready to work (if not started yet)."""
    poller_start(name=str(getattr(sender, "hostname", "") or ""))


@worker_shutdown.connect
def stop_postback_poller(**_kwargs) -> None:
    poller_stop()
