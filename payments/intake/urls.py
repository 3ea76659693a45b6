"""Provider postback routes (mounted at /api/)."""

from __future__ import annotations

from django.urls import path

from payments.intake import views

urlpatterns = [
    path("payment-verify", views.payment_verify, name="payment-verify-default"),
    path("payment-verify/<slug:provider>", views.payment_verify, name="payment-verify"),
]
