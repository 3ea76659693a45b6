"""Merchant API v1 routes (mounted at /api/v1/): one module per resource."""

from __future__ import annotations

from django.urls import path

from payments.api import payments, postback_stream, postbacks

urlpatterns = [
    path("init-payment", payments.InitPaymentApi.as_view(), name="api-init-payment"),
    path("payments", payments.PaymentListApi.as_view(), name="api-payment-list"),
    path(
        "payments/<str:payment_id>", payments.PaymentDetailApi.as_view(), name="api-payment-detail"
    ),
    path(
        "payments/<str:payment_id>/postbacks/resend",
        postbacks.PostbackResendApi.as_view(),
        name="api-postback-resend",
    ),
    path("postbacks/test", postbacks.PostbackTestApi.as_view(), name="api-postback-test"),
    path(
        "postbacks/stream",
        postback_stream.PostbackStreamApi.as_view(),
        name="api-postback-stream",
    ),
]
