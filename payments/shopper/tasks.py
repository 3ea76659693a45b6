"""Celery tasks of the shopper routes: copying the buffered redirect events into the log.

The sandbox's delayed and repeated postbacks (test outcomes) are tasks of
`sandbox_outcomes.py`, imported here so the worker registers them.
"""

from __future__ import annotations

from celery import shared_task

from payments.shopper.event_buffer import shopper_events_drain
from payments.shopper.sandbox_outcomes import (  # noqa: F401  (registered with the worker)
    sandbox_postback_late,
    sandbox_postback_repeat,
)
from payments.task_names import DRAIN_SHOPPER_EVENTS


@shared_task(name=DRAIN_SHOPPER_EVENTS, ignore_result=True)
def drain_shopper_events() -> int:
    """Copy buffered shopper events (Redis stream) into the event log."""
    return shopper_events_drain()
