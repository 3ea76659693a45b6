"""Docs routes: /docs/, /internal-docs/, and the OpenAPI schema with its two UIs."""

from __future__ import annotations

from django.urls import path

from docsite import views

app_name = "docsite"


urlpatterns = [
    path("docs/", views.public_page, name="public-index"),
    path("docs/highlight.css", views.highlight_css, name="highlight-css"),
    path("docs/sdk/<str:filename>", views.sdk_download, name="sdk-download"),
    path("docs/<slug:page>/", views.public_page, name="public-page"),
    path("internal-docs/", views.internal_page, name="internal-index"),
    path("internal-docs/<slug:page>/", views.internal_page, name="internal-page"),
    path("api/schema/", views.SchemaView.as_view(), name="schema"),
    path("api/docs/", views.SwaggerView.as_view(url_name="docsite:schema"), name="swagger-ui"),
    path("api/redoc/", views.RedocView.as_view(url_name="docsite:schema"), name="redoc"),
    path("api/redoc/redoc.standalone.js", views.redoc_bundle_js, name="redoc-bundle"),
]
