from __future__ import annotations

from django.apps import AppConfig


class ReportingConfig(AppConfig):
    name = "reporting"
    verbose_name = "Reporting and merchant portal"
    default_auto_field = "django.db.models.BigAutoField"
