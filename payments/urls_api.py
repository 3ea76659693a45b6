"""Merchant API v1 routes (mounted at /api/v1/)."""

from __future__ import annotations

from django.urls import include, path

from . import api

urlpatterns = [
    path("init-payment", api.InitPaymentApi.as_view(), name="api-init-payment"),
    path("payments", api.PaymentListApi.as_view(), name="api-payment-list"),
    path("payments/<str:payment_id>", api.PaymentDetailApi.as_view(), name="api-payment-detail"),
    path("", include("payments.urls_api_postbacks")),
]
