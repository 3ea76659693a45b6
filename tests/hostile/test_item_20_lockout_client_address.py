"""Item 20: the login lock-out is keyed on the client address only as far as
`AXES_PROXY_COUNT` says to trust `X-Forwarded-For`.

Without a proxy (0) the header is never read, so changing it from loopback no longer opens
a fresh lock; behind one trusted proxy the address that proxy appended is the client, so
what the client wrote to the left of it changes nothing, and clients behind the same proxy
do not share one lock. The last test runs the real web server (gunicorn + the uvicorn
worker class), whose own proxy-header handling used to rewrite the address from loopback.
"""

from __future__ import annotations

import re

import pytest
import requests
from django.contrib.auth import get_user_model
from django.test import Client

from tests.apaygate.test_web_server import _start_server, _stop

pytestmark = pytest.mark.django_db

USERNAME = "ops@alpha.example"
PASSWORD = "right-horse-battery-9"
PROXY = "127.0.0.1"


@pytest.fixture
def user(db):
    return get_user_model().objects.create_user(
        username=USERNAME, password=PASSWORD, is_staff=True, is_superuser=True
    )


def login(password: str, *, forwarded: str | None = None, peer: str = PROXY):
    extra = {"REMOTE_ADDR": peer}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return Client().post("/portal/login/", {"username": USERNAME, "password": password}, **extra)


def test_without_a_proxy_a_forged_forwarded_for_does_not_escape_the_lock(user, settings):
    settings.AXES_PROXY_COUNT = 0
    for n in range(settings.AXES_FAILURE_LIMIT):
        login("wrong", forwarded=f"198.51.100.{n}")

    response = login(PASSWORD, forwarded="203.0.113.250")

    assert response.status_code == 429


def test_behind_one_proxy_the_address_it_appended_is_the_client(user, settings):
    settings.AXES_PROXY_COUNT = 1
    for n in range(settings.AXES_FAILURE_LIMIT):
        # the client writes anything it likes; the proxy appends what it saw
        login("wrong", forwarded=f"198.51.100.{n}, 203.0.113.7")

    assert login(PASSWORD, forwarded="10.9.9.9, 203.0.113.7").status_code == 429
    # another client behind the same proxy is not locked with it
    assert login(PASSWORD, forwarded="203.0.113.8").status_code == 302


def test_behind_two_proxies_the_second_from_the_right_is_the_client(user, settings):
    settings.AXES_PROXY_COUNT = 2
    for n in range(settings.AXES_FAILURE_LIMIT):
        login("wrong", forwarded=f"198.51.100.{n}, 203.0.113.7, 10.0.0.2")

    assert login(PASSWORD, forwarded="203.0.113.7, 10.0.0.3").status_code == 429
    assert login(PASSWORD, forwarded="203.0.113.9, 10.0.0.2").status_code == 302


def _form_login(base: str, password: str, forwarded: str) -> requests.Response:
    page = requests.get(f"{base}/portal/login/", timeout=10)
    csrf = page.cookies.get("csrftoken") or re.search(
        r"csrftoken=([^;]+)", page.headers.get("Set-Cookie", "")
    ).group(1)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    return requests.post(
        f"{base}/portal/login/",
        data={"username": USERNAME, "password": password, "csrfmiddlewaretoken": token},
        # The cookie is Secure; this test speaks http to the server on loopback.
        headers={"Cookie": f"csrftoken={csrf}", "X-Forwarded-For": forwarded},
        allow_redirects=False,
        timeout=10,
    )


def test_the_real_web_server_keys_the_lock_on_the_socket_peer(transactional_db, tmp_path):
    get_user_model().objects.create_user(username=USERNAME, password=PASSWORD)
    process, base = _start_server(tmp_path, {"AXES_PROXY_COUNT": "0"})
    try:
        for n in range(5):  # the default AXES_FAILURE_LIMIT; the fifth answers the lock
            assert _form_login(base, "wrong", f"198.51.100.{n}").status_code in (200, 429)

        response = _form_login(base, PASSWORD, "203.0.113.250")
    finally:
        _stop(process)

    assert response.status_code == 429, (tmp_path / "web.log").read_text()[-2000:]
