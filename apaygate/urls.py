"""Top-level routes. Each area keeps its own urls module."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from payments import health

urlpatterns = [
    path("", RedirectView.as_view(url="/docs/", permanent=False), name="home"),
    path("admin/", admin.site.urls),
    path("healthz", health.healthz, name="healthz"),
    path("api/v1/", include("payments.urls_api")),
    path("api/", include("payments.urls_postbacks")),
    path("integration/", include("payments.urls_integration")),
    path("sandbox/", include("providers.urls")),
    path("demo/", include("payments.urls_demo")),
    path("", include("docsite.urls")),
    path("portal/", include("reporting.urls")),
]

handler404 = "payments.api_errors.json_404"
handler500 = "payments.api_errors.json_500"
