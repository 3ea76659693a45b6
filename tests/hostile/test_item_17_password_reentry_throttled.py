"""Item 17: every password re-entry is throttled with the login's limits.

With a portal session, wrong passwords typed to reveal or rotate the postback signing
secret, or as the old password on the password-change pages (portal and admin), used to be
unlimited: 30 wrong tries then the right one returned the `whsec_` secret. Now each wrong
one is a failed login to django-axes, keyed like the login form's (username + address):
after `AXES_FAILURE_LIMIT` the right password is refused too (429), and the login form is
locked with it.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from payments.models import Merchant
from reporting.portal.users import portal_user_create
from tests.factories import MerchantFactory

pytestmark = pytest.mark.django_db

EMAIL = "dev@alpha.example"
PASSWORD = "right-horse-battery-9"
ADDRESS = "203.0.113.7"

# (path, the password field, other fields of the form)
REENTRIES = {
    "reveal": ("/portal/developers/secret/reveal/", "reveal-password", {}),
    "rotate": ("/portal/developers/secret/rotate/", "rotate-password", {}),
    "password-change": (
        "/portal/password/",
        "old_password",
        {"new_password1": "a-new-horse-battery-7", "new_password2": "a-new-horse-battery-7"},
    ),
}


@pytest.fixture
def merchant(db) -> Merchant:
    return MerchantFactory(slug="alpha", name="Alpha")


@pytest.fixture
def portal_client(merchant) -> Client:
    membership = portal_user_create(merchant=merchant, email=EMAIL, password=PASSWORD)
    client = Client(REMOTE_ADDR=ADDRESS)
    client.force_login(membership.user)
    return client


def reenter(client: Client, where: str, password: str):
    path, field, others = REENTRIES[where]
    return client.post(path, {field: password, **others})


@pytest.mark.parametrize("where", REENTRIES)
def test_the_right_password_after_30_wrong_ones_is_refused(portal_client, merchant, where):
    secret_before = merchant.postback_secret
    for _ in range(30):
        reenter(portal_client, where, "wrong")

    response = reenter(portal_client, where, PASSWORD)

    assert response.status_code == 429
    assert b"whsec_" not in response.content
    merchant.refresh_from_db()
    assert merchant.postback_secret == secret_before
    assert get_user_model().objects.get(username=EMAIL).check_password(PASSWORD)


@pytest.mark.parametrize("where", REENTRIES)
def test_wrong_reentries_lock_the_login_form_too(portal_client, settings, where):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        reenter(portal_client, where, "wrong")

    login = Client().post(
        "/portal/login/", {"username": EMAIL, "password": PASSWORD}, REMOTE_ADDR=ADDRESS
    )

    assert login.status_code == 429


def test_wrong_logins_lock_the_reentry_too(portal_client, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        Client().post("/portal/login/", {"username": EMAIL, "password": "x"}, REMOTE_ADDR=ADDRESS)

    assert reenter(portal_client, "reveal", PASSWORD).status_code == 429


def test_a_few_wrong_reentries_then_the_right_one_still_reveal(portal_client, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert reenter(portal_client, "reveal", "wrong").status_code == 403

    response = reenter(portal_client, "reveal", PASSWORD)

    assert response.status_code == 200
    assert b"whsec_" in response.content


def test_the_admin_password_change_is_throttled_too(settings):
    admin = get_user_model().objects.create_user(
        username="ops@gateway.example", password=PASSWORD, is_staff=True, is_superuser=True
    )
    client = Client(REMOTE_ADDR=ADDRESS)
    client.force_login(admin)
    path = f"/{settings.ADMIN_URL_PATH}password_change/"
    new = {"new_password1": "a-new-horse-battery-7", "new_password2": "a-new-horse-battery-7"}
    assert client.get(path).status_code == 200
    for _ in range(30):
        client.post(path, {"old_password": "wrong", **new})

    response = client.post(path, {"old_password": PASSWORD, **new})

    assert response.status_code == 429
    admin.refresh_from_db()
    assert admin.check_password(PASSWORD)
