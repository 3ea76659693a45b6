"""Demo shop routes (mounted at /demo/; only while the sandbox is on)."""

from __future__ import annotations

from django.urls import path

from demo import views

urlpatterns = [
    path("", views.shop, name="demo-shop"),
    path("buy", views.buy, name="demo-buy"),
    path("success", views.success, name="demo-success"),
    path("error", views.error, name="demo-error"),
    path("postback", views.postback, name="demo-postback"),
]
