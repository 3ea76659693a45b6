"""Celery tasks of the shopper routes: copying the buffered redirect events into the log."""

from __future__ import annotations

from celery import shared_task

from payments.shopper.event_buffer import shopper_events_drain
from payments.task_names import DRAIN_SHOPPER_EVENTS


@shared_task(name=DRAIN_SHOPPER_EVENTS, ignore_result=True)
def drain_shopper_events() -> int:
    """Copy buffered shopper events (Redis stream) into the event log."""
    return shopper_events_drain()
