"""Sandbox routes (mounted at /sandbox/)."""

from __future__ import annotations

from django.urls import path

from . import sandbox_views

urlpatterns = [
    path("pay/<str:reference>", sandbox_views.sandbox_pay, name="sandbox-pay"),
]
