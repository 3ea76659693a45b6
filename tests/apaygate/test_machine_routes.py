"""The machine routes' shorter middleware stack (apaygate/machine_routes.py).

The merchant API and the providers' postbacks run without sessions, CSRF, login, messages,
the login throttle, static files and CSP; they keep the request id, metrics, the security
headers and the hostile-input checks. Every other path runs the full stack. Requests go
through the project's WSGI application as the web server's pool threads call it.
"""

from __future__ import annotations

import json

import pytest
from django.conf import settings
from django.test import RequestFactory

from apaygate.machine_routes import RoutedWSGIHandler, machine_path
from tests.factories import MerchantFactory, make_token

# The handler closes the connection at the end of a request (request_finished), as in
# production: no test transaction to roll back, so the rows are flushed after each test.
pytestmark = pytest.mark.django_db(transaction=True)

INIT_BODY = {
    "id": "machine-1",
    "customerEmail": "alice@example.com",
    "amount": "10.00",
    "currency": "USD",
    "successUrl": "https://shop.example/s",
    "errorUrl": "https://shop.example/e",
}
KEPT = {
    "foundation.request_id.RequestIdMiddleware",
    "apaygate.api_debug_errors.ApiDebugErrorMiddleware",
    "apaygate.metrics.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "payments.api.middleware.RequestShapeMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
}


@pytest.fixture(scope="module")
def application():
    return RoutedWSGIHandler()


def call(application, request) -> tuple[int, dict[str, str], bytes]:
    answer: dict = {}

    def start_response(status, headers, exc_info=None):
        answer["status"] = int(status.split(" ", 1)[0])
        answer["headers"] = {name.lower(): value for name, value in headers}

    result = application(request.environ, start_response)
    try:
        body = b"".join(result)
    finally:
        result.close()
    return answer["status"], answer["headers"], body


def test_the_machine_stack_is_the_full_one_without_the_browsers_middleware():
    machine = settings.MACHINE_MIDDLEWARE
    assert machine == [name for name in settings.MIDDLEWARE if name in machine]  # same order
    assert set(machine) == KEPT
    assert set(settings.MIDDLEWARE) - set(machine) == settings.MACHINE_MIDDLEWARE_SKIPPED


@pytest.mark.parametrize(
    ("path", "machine"),
    [
        ("/api/v1/init-payment", True),
        ("/api/v1/payments/pay_x", True),
        ("/api/v1/postbacks/stream", True),
        ("/api/payment-verify/bansky", True),
        ("/api/payment-verify", True),
        ("/api/schema/", False),
        ("/api/docs/", False),
        ("/portal/", False),
        ("/admin/login/", False),
        ("/integration/pay", False),
        ("/sandbox/pay", False),
        ("/docs/", False),
    ],
)
def test_which_paths_are_machine_routes(path, machine):
    assert machine_path(path) is machine


def test_init_payment_runs_the_machine_stack_with_its_security_headers(application):
    merchant = MerchantFactory(provider="sandbox")
    _token, key = make_token(merchant=merchant, mode="test")
    request = RequestFactory().post(
        "/api/v1/init-payment",
        data=json.dumps(INIT_BODY),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {key}",
    )

    status, headers, body = call(application, request)

    assert status == 201, body
    assert json.loads(body)["status"] == "success"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["x-request-id"]
    assert "content-security-policy" not in headers  # the full stack's, not run here
    assert "set-cookie" not in headers
    assert "cookie" not in headers.get("vary", "").lower()


def test_a_postback_runs_the_machine_stack(application):
    request = RequestFactory().post(
        "/api/payment-verify/bansky",
        data=b'{"id": "pay_x"}',
        content_type="application/json",
        HTTP_X_BANSKY_SIGNATURE="0" * 64,
    )

    status, headers, body = call(application, request)

    assert 400 <= status < 500, body  # refused: the signature does not verify
    assert headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" not in headers


def test_the_hostile_input_checks_still_run_on_machine_routes(application):
    request = RequestFactory().post(
        "/api/v1/init-payment", data=b"{}", content_type="application/json"
    )
    request.environ["HTTP_TRANSFER_ENCODING"] = "chunked"

    status, _headers, body = call(application, request)

    assert status == 411, body


def test_other_paths_run_the_full_stack(application):
    status, headers, _body = call(application, RequestFactory().get("/docs/"))

    assert status == 200
    assert "content-security-policy" in headers
