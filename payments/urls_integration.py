"""Shopper-facing routes (mounted at /integration/)."""

from __future__ import annotations

from django.urls import path

from . import redirects

urlpatterns = [
    path("pay", redirects.pay, name="integration-pay"),
    path("success", redirects.success, name="integration-success"),
    path("error", redirects.error, name="integration-error"),
]
