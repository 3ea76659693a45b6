"""Merchant portal routes, mounted at /portal/."""

from __future__ import annotations

from django.urls import path

from reporting.portal import developers, views
from reporting.portal import payments as views_payments

app_name = "portal"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("login/", views.login, name="login"),
    path("logout/", views.logout, name="logout"),
    path("password/", views.password_change, name="password_change"),
    path("password/done/", views.password_change_done, name="password_change_done"),
    path("invite/<uidb64>/<token>/", views.invite, name="invite"),
    path("merchants/", views.switch_merchant, name="switch"),
    path("payments/", views_payments.payments, name="payments"),
    path("payments/export.csv", views_payments.payments_csv, name="payments_csv"),
    path("payments/<str:public_id>/", views_payments.payment, name="payment"),
    path(
        "payments/<str:public_id>/postbacks/<int:delivery_id>/resend/",
        views_payments.postback_resend,
        name="delivery_resend",
    ),
    path("developers/", developers.developers, name="developers"),
    path("developers/keys/", developers.token_create, name="token_create"),
    path("developers/keys/<int:token_id>/revoke/", developers.token_revoke, name="token_revoke"),
    path("developers/secret/reveal/", developers.secret_reveal, name="secret_reveal"),
    path("developers/secret/rotate/", developers.secret_rotate, name="secret_rotate"),
    path("developers/postback-test/", developers.postback_test, name="postback_test"),
    path(
        "developers/endpoints/<int:endpoint_id>/enable/",
        developers.endpoint_enable_view,
        name="endpoint_enable",
    ),
]
