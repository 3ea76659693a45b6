"""Beat task of the portal: e-mails about failing and disabled postback endpoints."""

from __future__ import annotations

from celery import shared_task

from reporting.portal.alerts import endpoint_alerts_send
from reporting.task_names import ENDPOINT_ALERTS


@shared_task(name=ENDPOINT_ALERTS, ignore_result=True)
def endpoint_alerts() -> int:
    """Send the endpoint alert e-mails owed (reporting/portal/alerts.py)."""
    return endpoint_alerts_send()
