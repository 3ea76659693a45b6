"""Demo shop routes (mounted at /demo/; only while the sandbox is on)."""

from __future__ import annotations

from django.urls import path

from . import demo

urlpatterns = [
    path("", demo.shop, name="demo-shop"),
    path("buy", demo.buy, name="demo-buy"),
    path("success", demo.success, name="demo-success"),
    path("error", demo.error, name="demo-error"),
    path("postback", demo.postback, name="demo-postback"),
]
