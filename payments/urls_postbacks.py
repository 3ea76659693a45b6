"""Provider postback routes (mounted at /api/)."""

from __future__ import annotations

from django.urls import path

from . import intake

urlpatterns = [
    path("payment-verify", intake.payment_verify, name="payment-verify-default"),
    path("payment-verify/<slug:provider>", intake.payment_verify, name="payment-verify"),
]
