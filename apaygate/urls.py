"""Top-level routes. Each area keeps its own urls module."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView

from apaygate import health, pages
from apaygate.metrics import metrics_view

admin.site.site_header = "APayGate administration"
admin.site.site_title = "APayGate admin"
admin.site.index_title = "Merchants, payments and postbacks"

urlpatterns = [
    path("", RedirectView.as_view(url="/docs/", permanent=False), name="home"),
    path(settings.ADMIN_URL_PATH, admin.site.urls),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("favicon.ico", pages.favicon, name="favicon"),
    path("api/v1/", include("payments.api.urls")),
    path("api/", include("payments.intake.urls")),
    path("integration/", include("payments.shopper.urls")),
    path("sandbox/", include("payments.shopper.sandbox_urls")),
    path("demo/", include("demo.urls")),
    path("", include("docsite.urls")),
    path("portal/", include("reporting.portal.urls")),
    # Last: any other /api/ path is the API's JSON 404, with DEBUG on too.
    re_path(r"^api/(?P<rest>.*)$", pages.api_not_found, name="api-not-found"),
]

handler404 = "apaygate.pages.page_not_found"
handler500 = "apaygate.pages.server_error"
