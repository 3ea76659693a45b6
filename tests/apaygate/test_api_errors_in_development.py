"""Under /api/ every answer is JSON, with DEBUG on (`make run`) as in production."""

from __future__ import annotations

import pytest
from django.db import OperationalError
from django.test import AsyncClient, Client, override_settings

from tests.factories import make_token
from tests.support.aio import run_coroutine


@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_an_unknown_api_path_is_a_json_404(client, settings, debug, method):
    settings.DEBUG = debug

    response = getattr(client, method)("/api/v1/no-such-thing")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == "not_found"
    assert "/api/v1/no-such-thing" in body["message"]


def test_known_api_routes_still_answer(client, db):
    assert client.get("/api/schema/").status_code == 200
    assert client.get("/api/v1/payments")["Content-Type"] == "application/json"


class Boom(RuntimeError):
    """A bug of ours, raised where no handler expects it."""


def _boom(*args, **kwargs):
    raise Boom("a bug")


def _assert_json_internal_error(response) -> None:
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["status"] == "error"
    assert body["code"] == "internal_error"
    request_id = response["X-Request-ID"]
    assert request_id and request_id in body["message"]


@pytest.mark.parametrize("debug", [True, False])
def test_an_exception_in_a_plain_api_view_is_a_json_500(db, monkeypatch, debug):
    # the provider intake is a plain Django view: Django's own handling, not DRF's
    monkeypatch.setattr("payments.intake.views.postback_receive", _boom)
    client = Client(raise_request_exception=False)

    with override_settings(DEBUG=debug):
        response = client.post("/api/payment-verify/sandbox", b"{}", "application/json")

    _assert_json_internal_error(response)


@pytest.mark.parametrize("debug", [True, False])
def test_an_exception_in_a_middleware_under_api_is_a_json_500(db, monkeypatch, debug):
    monkeypatch.setattr("payments.api.middleware.RequestShapeMiddleware.__call__", _boom)
    client = Client(raise_request_exception=False)

    with override_settings(DEBUG=debug):
        response = client.get("/api/v1/payments", HTTP_X_REQUEST_ID="support-ticket-42")

    _assert_json_internal_error(response)
    assert response["X-Request-ID"] == "support-ticket-42"


@pytest.mark.parametrize("debug", [True, False])
def test_an_exception_in_an_api_class_is_a_json_500(db, monkeypatch, debug):
    _, key = make_token()
    monkeypatch.setattr("payments.api.payments.payment_list", _boom)
    client = Client(raise_request_exception=False)

    with override_settings(DEBUG=debug):
        response = client.get("/api/v1/payments", HTTP_AUTHORIZATION=f"Token {key}")

    _assert_json_internal_error(response)


def test_a_database_out_of_reach_under_api_is_a_503_with_debug_on(db, monkeypatch):
    def unreachable(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr("payments.intake.views.postback_receive", unreachable)
    client = Client(raise_request_exception=False)

    with override_settings(DEBUG=True):
        response = client.post("/api/payment-verify/sandbox", b"{}", "application/json")

    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"
    assert response["Retry-After"]


def test_outside_api_debug_on_keeps_djangos_debug_page(db, monkeypatch):
    monkeypatch.setattr("payments.api.middleware.RequestShapeMiddleware.__call__", _boom)
    client = Client(raise_request_exception=False)

    with override_settings(DEBUG=True):
        response = client.get("/docs/")

    assert response.status_code == 500
    assert "Boom" in response.content.decode()  # the developer's traceback page


def test_under_asgi_too_an_exception_under_api_is_a_json_500(db, monkeypatch):
    # the web process serves Django through ASGI: the middleware's async path
    monkeypatch.setattr("payments.intake.views.postback_receive", _boom)
    client = AsyncClient(raise_request_exception=False)

    with override_settings(DEBUG=True):
        # off this thread: a browser test before it in this xdist worker leaves an event
        # loop running here (tests/support/aio.py)
        response = run_coroutine(
            client.post("/api/payment-verify/sandbox", b"{}", "application/json")
        )

    _assert_json_internal_error(response)
