"""Top-level routes. Each area keeps its own urls module."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path, reverse
from django.views.generic import RedirectView

from apaygate import health, pages
from apaygate.metrics import metrics_view
from reporting.portal.reauth import ThrottledPasswordChangeMixin

admin.site.site_header = "APayGate administration"
admin.site.site_title = "APayGate admin"
admin.site.index_title = "Merchants, payments and postbacks"


class AdminPasswordChangeView(ThrottledPasswordChangeMixin, auth_views.PasswordChangeView):
    """The admin's password change, with the old password checked under the login throttle."""

    template_name = "registration/password_change_form.html"

    def get_success_url(self) -> str:
        return reverse("admin:password_change_done")

    def get_context_data(self, **kwargs) -> dict:
        return {**super().get_context_data(**kwargs), **admin.site.each_context(self.request)}


urlpatterns = [
    path("", RedirectView.as_view(url="/docs/", permanent=False), name="home"),
    # Before the admin's own route of the same path, which it replaces.
    path(
        f"{settings.ADMIN_URL_PATH}password_change/",
        admin.site.admin_view(AdminPasswordChangeView.as_view()),
        name="admin_password_change",
    ),
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
