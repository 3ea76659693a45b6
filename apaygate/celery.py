"""Celery application: tasks live in a `tasks.py` beside the services they call, and stay thin."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "apaygate.settings")

app = Celery("apaygate")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["payments", "payments.delivery", "reporting.export"])
