"""The reporting Celery task names, imported by the task and by beat's schedule.

Written once here, as in `payments/task_names.py` (which says why); this module imports
nothing, so `apaygate/settings.py` reads it before Django starts.

| name | runs | sent by |
|---|---|---|
| EXPORT_EVENTS | `reporting/export/tasks.py` | beat (`BIGQUERY_EXPORT_INTERVAL`) |
| ENDPOINT_ALERTS | `reporting/portal/tasks.py` | beat (`POSTBACK_ALERT_INTERVAL`) |
"""

from __future__ import annotations

from typing import Final

EXPORT_EVENTS: Final = "reporting.export_events"
ENDPOINT_ALERTS: Final = "portal.endpoint_alerts"
