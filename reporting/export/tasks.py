"""Celery task for the BigQuery export: a thin wrapper that calls the export services."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from reporting.task_names import EXPORT_EVENTS


@shared_task(name=EXPORT_EVENTS, ignore_result=True)
def export_events_to_bigquery() -> dict[str, Any]:
    """Send waiting events to BigQuery (beat, every BIGQUERY_EXPORT_INTERVAL seconds).

    No Celery retry here: the next beat tick is the retry, and export_run keeps its own
    backoff, so an outage never piles up retried tasks in the queue.
    """
    # Imported here: the services load google-cloud-bigquery (about 0.6 CPU seconds), which
    # every worker would otherwise pay at start-up, even the many that never export.
    from reporting.export.services import export_run

    return export_run().as_dict()
