"""Celery tasks for reporting: thin wrappers that call the export services."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from .export import export_run


@shared_task(name="reporting.tasks.export_events_to_bigquery", ignore_result=True)
def export_events_to_bigquery() -> dict[str, Any]:
    """Send waiting events to BigQuery (beat, every BIGQUERY_EXPORT_INTERVAL seconds).

    No Celery retry here: the next beat tick is the retry, and export_run keeps its own
    backoff, so an outage never piles up retried tasks in the queue.
    """
    return export_run().as_dict()
