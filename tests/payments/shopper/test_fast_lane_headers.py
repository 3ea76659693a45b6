"""The fast lane's answer under production settings: Django's exactly, HSTS and https redirect too.

Production runs with SECURE_SSL_REDIRECT and HSTS on behind a TLS proxy that sets
X-Forwarded-Proto (SECURE_PROXY_SSL_HEADER). Over "https" the fast lane's 302 carries the
same headers as Django's view, Strict-Transport-Security included; over plain http it does
not answer (nor buffer an event), and Django's SecurityMiddleware sends its 301 to https.
"""

from __future__ import annotations

import pytest

from payments.kv import kv_store
from payments.shopper.event_buffer import shopper_events_drain
from tests.factories import PaymentFactory
from tests.support.fast_lane import call_fast_lane

pytestmark = pytest.mark.django_db

PER_RESPONSE = {"expires", "x-request-id"}


@pytest.fixture
def production_security(settings):
    """The security settings of a production deployment (test settings turn the redirect off)."""
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = True
    settings.ALLOWED_HOSTS = ["testserver"]
    return settings


def _fast_lane(public_id: str, *, scheme: str, forwarded_proto: str | None):
    headers = [(b"host", b"testserver")]
    if forwarded_proto is not None:
        headers.append((b"x-forwarded-proto", forwarded_proto.encode()))
    return call_fast_lane(public_id, headers=headers, scheme=scheme)


def _django(client, public_id: str, *, scheme: str, forwarded_proto: str | None):
    extra = {} if forwarded_proto is None else {"HTTP_X_FORWARDED_PROTO": forwarded_proto}
    return client.get(f"/integration/pay?id={public_id}", secure=scheme == "https", **extra)


@pytest.mark.parametrize(
    ("scheme", "forwarded_proto"),
    [
        ("http", "https"),  # the TLS proxy's header (uvicorn behind it sees http)
        ("http", "https, http"),  # several values: Django reads the first
        ("https", None),  # TLS on the server itself, no proxy header
    ],
)
@pytest.mark.parametrize("hsts", ["full", "max-age only", "off"])
def test_over_https_the_fast_lane_sends_the_django_views_headers_with_hsts(
    client, production_security, scheme, forwarded_proto, hsts
):
    if hsts == "max-age only":
        production_security.SECURE_HSTS_INCLUDE_SUBDOMAINS = False
        production_security.SECURE_HSTS_PRELOAD = False
    if hsts == "off":
        production_security.SECURE_HSTS_SECONDS = 0
    payment = PaymentFactory()
    kv_store(payment)
    django_response = _django(
        client, payment.public_id, scheme=scheme, forwarded_proto=forwarded_proto
    )

    handled, sent = _fast_lane(payment.public_id, scheme=scheme, forwarded_proto=forwarded_proto)

    assert handled
    start = sent[0]
    assert start["status"] == django_response.status_code == 302
    headers = {name.decode(): value.decode() for name, value in start["headers"]}
    expected = {name.lower(): value for name, value in django_response.items()}
    assert {k: v for k, v in headers.items() if k not in PER_RESPONSE} == {
        k: v for k, v in expected.items() if k not in PER_RESPONSE
    }
    assert headers.keys() == expected.keys()
    assert ("strict-transport-security" in headers) == (hsts != "off")
    if hsts == "full":
        assert headers["strict-transport-security"] == (
            "max-age=31536000; includeSubDomains; preload"
        )


@pytest.mark.parametrize(
    ("scheme", "forwarded_proto"),
    [
        ("http", None),  # nothing says https
        ("http", "http"),  # the proxy says plain http
        ("https", "http"),  # the proxy's header wins over the connection's scheme
        ("http", "http, https"),  # a client-added value after the proxy's does not count
    ],
)
def test_over_plain_http_the_fast_lane_leaves_the_https_redirect_to_django(
    client, production_security, scheme, forwarded_proto
):
    payment = PaymentFactory()
    kv_store(payment)

    handled, sent = _fast_lane(payment.public_id, scheme=scheme, forwarded_proto=forwarded_proto)
    django_response = _django(
        client, payment.public_id, scheme=scheme, forwarded_proto=forwarded_proto
    )

    assert not handled
    assert sent == []
    assert shopper_events_drain() == 0  # nothing buffered for a redirect that was not sent
    assert django_response.status_code == 301
    location = django_response["Location"]
    assert location.startswith("https://testserver")  # (":443" when the test client's is)
    assert location.endswith(f"/integration/pay?id={payment.public_id}")
    assert "Strict-Transport-Security" not in django_response  # never over plain http
    assert not payment.events.filter(type="shopper.redirected").exists()


def test_without_the_redirect_setting_plain_http_is_answered_without_hsts(
    client, production_security
):
    production_security.SECURE_SSL_REDIRECT = False  # e.g. a plain-http loopback test setup
    payment = PaymentFactory()
    kv_store(payment)
    django_response = _django(client, payment.public_id, scheme="http", forwarded_proto=None)

    handled, sent = _fast_lane(payment.public_id, scheme="http", forwarded_proto=None)

    assert handled
    headers = {name.decode() for name, _value in sent[0]["headers"]}
    assert headers == {name.lower() for name in django_response.headers}
    assert "strict-transport-security" not in headers
