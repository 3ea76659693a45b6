"""Merchant API routes for postbacks (mounted under /api/v1/)."""

from __future__ import annotations

from django.urls import path

from . import api_postbacks

urlpatterns = [
    path(
        "payments/<str:payment_id>/postbacks/resend",
        api_postbacks.PostbackResendApi.as_view(),
        name="api-postback-resend",
    ),
    path("postbacks/test", api_postbacks.PostbackTestApi.as_view(), name="api-postback-test"),
]
