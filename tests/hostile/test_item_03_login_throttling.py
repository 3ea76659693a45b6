"""Item 3: wrong passwords lock a username+IP out of the portal and the admin, for a while."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

pytestmark = pytest.mark.django_db

PASSWORD = "right-horse-battery-9"
LOGIN_URLS = {"portal": "/portal/login/", "admin": "/admin/login/"}


@pytest.fixture
def user(db):
    return get_user_model().objects.create_user(
        username="ops@alpha.example", password=PASSWORD, is_staff=True, is_superuser=True
    )


def attempt(client: Client, where: str, password: str, ip: str = "203.0.113.7"):
    return client.post(
        LOGIN_URLS[where],
        {"username": "ops@alpha.example", "password": password},
        REMOTE_ADDR=ip,
    )


@pytest.mark.parametrize("where", ["portal", "admin"])
def test_the_right_password_after_30_wrong_ones_is_refused(user, where):
    client = Client()
    for _ in range(30):
        attempt(client, where, "wrong")

    response = attempt(client, where, PASSWORD)

    assert response.status_code == 429
    assert b"Too many sign-in attempts" in response.content
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("where", ["portal", "admin"])
def test_the_lock_is_keyed_by_username_and_ip(user, settings, where):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        attempt(Client(), where, "wrong", ip="203.0.113.7")

    elsewhere = attempt(Client(), where, PASSWORD, ip="198.51.100.9")

    assert elsewhere.status_code == 302  # same username, another address: not locked


def test_the_lock_expires_after_the_cool_off(user, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        attempt(Client(), "portal", "wrong")
    assert attempt(Client(), "portal", PASSWORD).status_code == 429

    # when the cool-off has passed
    past = timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1)
    AccessAttempt.objects.update(attempt_time=past)

    assert attempt(Client(), "portal", PASSWORD).status_code == 302


def test_a_few_wrong_passwords_then_the_right_one_still_log_in(user, settings):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert attempt(client, "portal", "wrong").status_code == 200

    assert attempt(client, "portal", PASSWORD).status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)
