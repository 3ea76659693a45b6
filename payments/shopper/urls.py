"""Shopper-facing routes (mounted at /integration/)."""

from __future__ import annotations

from django.urls import path

from payments.shopper import redirects, waiting

urlpatterns = [
    path("pay", redirects.pay, name="integration-pay"),
    path("success", redirects.success, name="integration-success"),
    path("error", redirects.error, name="integration-error"),
    path("status", waiting.status_page, name="integration-status"),
    path("status.json", waiting.status_json, name="integration-status-json"),
]
