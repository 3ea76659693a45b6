"""Item 2: every IANA special-purpose range is refused, at validation level.

Nothing here connects: the init check and the test-postback check are judged on IP
literals, and the delivery-time filter (requests-hardened with our table) is driven
with a stubbed resolver.
"""

from __future__ import annotations

import ipaddress
import socket

import pytest
from requests_hardened.ip_filter import InvalidIPAddress, get_ip_address

from foundation.addresses import REFUSED_NETWORKS, address_is_refused, url_host_is_refused
from payments.models import Payment

pytestmark = pytest.mark.django_db

NETWORKS = [str(net) for net in REFUSED_NETWORKS]


def _samples(network: str) -> list[str]:
    """The first, a middle and the last address of a range."""
    net = ipaddress.ip_network(network)
    first, last = int(net.network_address), int(net.broadcast_address)
    return [str(ipaddress.ip_address(n)) for n in {first, (first + last) // 2, last}]


def _literal(address: str) -> str:
    return f"[{address}]" if ":" in address else address


@pytest.mark.parametrize("network", NETWORKS)
def test_every_address_of_a_special_purpose_range_is_refused(network):
    for address in _samples(network):
        assert address_is_refused(ipaddress.ip_address(address)), address


@pytest.mark.parametrize("network", NETWORKS)
def test_init_check_refuses_each_special_purpose_range(network):
    for address in _samples(network):
        assert url_host_is_refused(f"https://{_literal(address)}/pb") is True, address


@pytest.mark.parametrize("network", NETWORKS)
def test_delivery_filter_refuses_each_special_purpose_range(network, monkeypatch):
    # A stubbed resolver: the filter judges the address it would connect to, then stops.
    for address in _samples(network):
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        answer = [(family, socket.SOCK_STREAM, 6, "", (address, 443))]
        monkeypatch.setattr(socket, "getaddrinfo", lambda *a, _answer=answer, **k: _answer)
        with pytest.raises(InvalidIPAddress):
            get_ip_address("merchant.example", 443, allow_loopback=False)


@pytest.mark.parametrize(
    "address",
    [
        "::ffff:10.0.0.1",  # IPv4-mapped private
        "64:ff9b::7f00:1",  # NAT64 of loopback
        "2002:a9fe:a9fe::1",  # 6to4 of the metadata address
        "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # Teredo, client 10.0.0.1
    ],
)
def test_translation_addresses_are_judged_by_their_embedded_ipv4(address):
    assert address_is_refused(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_are_not_refused(address):
    assert not address_is_refused(ipaddress.ip_address(address))


def test_site_local_postback_url_is_refused_at_init(api, settings):
    settings.DEBUG = True  # IP literals pass the URL grammar only in development
    body = {
        "id": "o-1",
        "amount": 10,
        "currency": "USD",
        "successUrl": "https://shop.example/ok",
        "errorUrl": "https://shop.example/ko",
        "postbackUrl": "http://[fec0::1]/",
    }

    response = api.post("/api/v1/init-payment", body, format="json")

    assert response.status_code == 400
    assert response.json()["errors"]["postbackUrl"]
    assert not Payment.objects.exists()


def test_site_local_url_is_refused_by_the_test_postback(api, settings):
    settings.DEBUG = True

    response = api.post("/api/v1/postbacks/test", {"url": "http://[fec0::1]/"}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
