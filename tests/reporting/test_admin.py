"""Staff create portal users in the admin: invite by e-mail, or set a password."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client

from reporting.models import PortalMembership

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client() -> Client:
    user = get_user_model().objects.create_superuser("root", "root@gate.example", PASSWORD)
    client = Client()
    client.force_login(user)
    return client


def test_admin_adds_a_portal_user_and_an_invite_is_emailed_after_commit(
    admin_client, merchant_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = admin_client.post(
            "/admin/reporting/portalmembership/add/",
            {"merchant": merchant_a.pk, "email": "Clerk@Alpha.example", "password": ""},
        )
    # nothing is mailed inside the admin's transaction
    assert len(mail.outbox) == 0
    for callback in callbacks:
        callback()

    assert response.status_code == 302, response.content.decode()[:2000]
    membership = PortalMembership.objects.get()
    assert (membership.merchant, membership.user.username) == (merchant_a, "clerk@alpha.example")
    assert not membership.user.has_usable_password()
    assert len(mail.outbox) == 1
    assert "/portal/invite/" in mail.outbox[0].body


def test_admin_adds_a_portal_user_with_a_password(admin_client, merchant_a):
    admin_client.post(
        "/admin/reporting/portalmembership/add/",
        {"merchant": merchant_a.pk, "email": "direct@alpha.example", "password": PASSWORD},
    )

    assert Client().login(username="direct@alpha.example", password=PASSWORD)
    assert not mail.outbox


def test_admin_refuses_a_duplicate_email(admin_client, merchant_a, user_a):
    response = admin_client.post(
        "/admin/reporting/portalmembership/add/",
        {"merchant": merchant_a.pk, "email": user_a.email, "password": ""},
    )

    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert PortalMembership.objects.count() == 1
