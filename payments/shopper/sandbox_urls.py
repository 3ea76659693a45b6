"""The sandbox's hosted pay page (mounted at /sandbox/ while the sandbox is on)."""

from __future__ import annotations

from django.urls import path

from payments.shopper import sandbox_page

urlpatterns = [
    path("pay/<str:reference>", sandbox_page.sandbox_pay, name="sandbox-pay"),
]
