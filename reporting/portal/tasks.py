"""Beat task of the portal: e-mails about failing and disabled postback endpoints."""

from __future__ import annotations

from celery import shared_task

from reporting.portal.alerts import endpoint_alerts_send


@shared_task(name="portal.endpoint_alerts", ignore_result=True)
def endpoint_alerts() -> int:
    """Send the endpoint alert e-mails owed (reporting/portal/alerts.py)."""
    return endpoint_alerts_send()
