"""PostgreSQL out of reach: every route answers 503 with Retry-After, never a 500.

The database is made unreachable for real: the connection's port is pointed at a loopback
port nobody listens on, so every query fails to connect (as with a server that is down or
restarting). Nothing leaves the machine.
"""

from __future__ import annotations

import socket

import pytest
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from payments.errors import DATABASE_RETRY_AFTER_SECONDS
from tests.factories import MerchantFactory, PaymentFactory, make_token
from tests.payments.intake.test_postbacks import sandbox_raw

pytestmark = pytest.mark.django_db(transaction=True)


def _closed_loopback_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again on leaving: connections are refused


@pytest.fixture
def database_down():
    """Refuse every new database connection until the test ends."""
    saved = dict(connection.settings_dict)
    connection.close()
    connection.close_pool()  # a pool made with the good address would keep serving
    connection.settings_dict.update(HOST="127.0.0.1", PORT=str(_closed_loopback_port()))
    yield
    connection.close()
    connection.close_pool()
    connection.settings_dict.clear()
    connection.settings_dict.update(saved)


@pytest.fixture
def api_key() -> str:
    merchant = MerchantFactory(slug="acme", provider="sandbox")
    return make_token(merchant=merchant)[1]


def _assert_retry_later(response) -> None:
    assert response.status_code == 503
    assert response["Retry-After"] == str(DATABASE_RETRY_AFTER_SECONDS)


def test_init_payment_is_a_json_503(api_key, database_down):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_key}")
    body = {"id": "order-1", "amount": "25.00", "currency": "USD"}

    response = client.post("/api/v1/init-payment", body, format="json")

    _assert_retry_later(response)
    assert response.json()["code"] == "service_unavailable"
    assert set(response.json()) == {"status", "code", "message", "errors"}


def test_provider_postback_is_a_json_503_so_the_provider_retries(request):
    """A well-signed postback: verified without the database, then applying it fails."""
    raw = sandbox_raw(PaymentFactory(merchant=MerchantFactory(provider="sandbox")))
    request.getfixturevalue("database_down")
    client = Client(raise_request_exception=False)

    response = client.post(
        "/api/payment-verify/sandbox",
        data=raw.body,
        content_type="application/json",
        headers=raw.headers,
    )

    _assert_retry_later(response)
    assert response.json()["code"] == "service_unavailable"


def test_shopper_redirect_is_a_branded_503_page(database_down):
    client = Client(raise_request_exception=False)

    response = client.get("/integration/pay", {"id": "pay_" + "a" * 32})

    _assert_retry_later(response)
    assert response["Content-Type"].startswith("text/html")
    assert b'data-error="503"' in response.content


def test_liveness_does_not_need_the_database(database_down):
    assert Client(raise_request_exception=False).get("/healthz").status_code == 200
