"""The project's routes plus the waiting page, for tests (until the lead routes it)."""

from __future__ import annotations

from django.urls import path

from apaygate.urls import urlpatterns as project_urlpatterns
from payments import waiting

urlpatterns = [
    path("integration/status", waiting.status_page, name="test-integration-status"),
    path("integration/status.json", waiting.status_json, name="test-integration-status-json"),
    *project_urlpatterns,
]
