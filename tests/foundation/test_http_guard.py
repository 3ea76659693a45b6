"""SSRF guard at delivery time: refused addresses, DNS rebinding, redirects.

A real receiver listens on 127.0.0.1, so a loopback spelling that slipped through would
be seen arriving there; the other classes must fail before any connection is made.
"""

from __future__ import annotations

import socket

import pytest

from foundation.http import url_host_is_refused
from payments.delivery.attempts import delivery_attempt
from payments.delivery.outbox import delivery_enqueue
from payments.models import DeliveryStatus
from tests.factories import MerchantFactory, PaymentFactory

pytestmark = pytest.mark.django_db

REFUSED_HOSTS = [
    # loopback, in every spelling a resolver accepts
    "127.0.0.1",
    "127.1",
    "2130706433",
    "0x7f000001",
    "0x7f.0.0.1",
    "0177.0.0.1",
    "localhost",
    "[::1]",
    "[::ffff:127.0.0.1]",
    # private
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.1",
    "0xc0a80101",
    "[fc00::1]",
    # link-local and cloud metadata
    "169.254.169.254",
    "0xa9fea9fe",
    "2852039166",
    "[::ffff:169.254.169.254]",
    "[fe80::1]",
    # CGNAT
    "100.64.0.1",
    "100.127.255.254",
    # multicast, reserved, unspecified, broadcast
    "224.0.0.1",
    "[ff02::1]",
    "240.0.0.1",
    "255.255.255.255",
    "0.0.0.0",
    "0",
    "[::]",
    # NAT64 and 6to4 forms of loopback
    "[64:ff9b::7f00:1]",
    "[2002:7f00:1::]",
]


@pytest.fixture
def guarded(settings, receiver):
    settings.POSTBACK_ALLOW_PRIVATE = False
    settings.POSTBACK_TIMEOUT = 1.0
    merchant = MerchantFactory()
    receiver.secrets = [merchant.postback_secret]
    return merchant


def attempt_to(merchant, url):
    payment = PaymentFactory(merchant=merchant, postback_url=url, status="succeeded")
    delivery = delivery_enqueue(payment=payment, event="payment.succeeded")
    return delivery_attempt(delivery_id=delivery.pk)


@pytest.mark.parametrize("host", REFUSED_HOSTS)
def test_delivery_to_a_refused_address_is_never_sent(guarded, receiver, host):
    delivery = attempt_to(guarded, f"http://{host}:{receiver.port}/postback")

    assert delivery.status == DeliveryStatus.PENDING  # retried later: DNS may change
    attempt = delivery.attempts.get()
    assert attempt.status_code is None
    assert attempt.error.startswith("refused")
    assert receiver.requests == []


@pytest.mark.parametrize("host", REFUSED_HOSTS)
def test_init_time_check_refuses_the_same_spellings(host):
    assert url_host_is_refused(f"https://{host}/postback") is True


def test_public_address_is_not_refused():
    assert url_host_is_refused("https://93.184.216.34/postback") is False


def test_loopback_is_reached_only_when_private_addresses_are_allowed(guarded, receiver, settings):
    settings.POSTBACK_ALLOW_PRIVATE = True

    delivery = attempt_to(guarded, receiver.url)

    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert len(receiver.requests) == 1


def rebinding_resolver(monkeypatch, *, name: str, first: str, then: str) -> list[str]:
    """Answer `name` with `first` once, then `then`; leave IP literals to the real resolver."""
    real = socket.getaddrinfo
    answers: list[str] = []

    def fake(host, port, *args, **kwargs):
        if host != name:
            return real(host, port, *args, **kwargs)
        address = first if not answers else then
        answers.append(address)
        return real(address, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return answers


def test_dns_rebinding_after_the_init_check_is_refused_at_delivery(guarded, receiver, monkeypatch):
    # given a name that looked public when the merchant registered it
    answers = rebinding_resolver(
        monkeypatch, name="shop.rebind.test", first="93.184.216.34", then="127.0.0.1"
    )
    url = f"http://shop.rebind.test:{receiver.port}/postback"
    assert url_host_is_refused(url) is False

    # when it resolves to loopback at delivery time
    delivery = attempt_to(guarded, url)

    # then the delivery is refused and the loopback service saw nothing
    assert delivery.attempts.get().error.startswith("refused")
    assert receiver.requests == []
    assert answers == ["93.184.216.34", "127.0.0.1"]


def test_dns_rebinding_cannot_swap_the_address_between_check_and_connect(
    guarded, receiver, monkeypatch
):
    # given a name whose first answer is public and every later answer loopback
    answers = rebinding_resolver(
        monkeypatch, name="swap.rebind.test", first="93.184.216.34", then="127.0.0.1"
    )

    delivery = attempt_to(guarded, f"http://swap.rebind.test:{receiver.port}/postback")

    # then the client connected to the address it checked (unreachable here), resolving once
    assert answers == ["93.184.216.34"]
    assert (
        delivery.attempts.get().error.startswith("connection error")
        or delivery.attempts.get().error == "timeout"
    )
    assert receiver.requests == []


def test_redirect_to_the_metadata_address_is_not_followed(settings, receiver):
    settings.POSTBACK_ALLOW_PRIVATE = True  # to reach the loopback receiver at all
    settings.POSTBACK_TIMEOUT = 5.0
    merchant = MerchantFactory()
    receiver.script = [(307, {"Location": "http://169.254.169.254/latest/meta-data/"}, b"")]

    delivery = attempt_to(merchant, receiver.url)

    attempt = delivery.attempts.get()
    assert attempt.status_code == 307
    assert attempt.duration_ms < 1000  # no connection was tried towards the metadata address
    assert delivery.status == DeliveryStatus.PENDING
    assert len(receiver.requests) == 1
