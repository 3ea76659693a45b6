"""At init, postbackUrl may not point at an internal address, in any spelling."""

from __future__ import annotations

import pytest
from django.test import override_settings

from payments.models import Payment

BODY = {
    "id": "o-1",
    "amount": 10,
    "currency": "USD",
    "successUrl": "https://shop.example/success",
    "errorUrl": "https://shop.example/error",
}

REFUSED = [
    "https://127.0.0.1/pb",
    "https://localhost/pb",
    "https://10.0.0.5/pb",
    "https://172.16.3.4/pb",
    "https://192.168.1.1/pb",
    "https://169.254.169.254/latest/meta-data",
    "https://100.64.0.1/pb",
    "https://0.0.0.0/pb",
    "https://224.0.0.1/pb",
    "https://240.0.0.1/pb",
    "https://[::1]/pb",
    "https://[fe80::1]/pb",
    "https://[fd00:ec2::254]/pb",
    "https://[::ffff:127.0.0.1]/pb",
    "https://[::ffff:169.254.169.254]/pb",
    "https://2130706433/pb",  # decimal 127.0.0.1
    "https://0x7f000001/pb",  # hex
    "https://0x7f.1/pb",  # short hex
    "https://0177.0.0.1/pb",  # octal
    "https://017700000001/pb",  # octal, one number
    "https://[64:ff9b::a00:1]/pb",  # NAT64 of 10.0.0.1
]


@pytest.mark.parametrize("url", REFUSED)
def test_postback_url_on_an_internal_address_is_refused(api, settings, url):
    settings.DEBUG = True  # IP literals pass the URL grammar only in development
    response = api.post("/api/v1/init-payment", {**BODY, "postbackUrl": url}, format="json")

    assert response.status_code == 400, url
    assert "postbackUrl" in response.json()["errors"]
    assert not Payment.objects.exists()


@pytest.mark.parametrize(
    "url", ["https://127.0.0.1/pb", "http://localhost:8000/pb", "https://[::ffff:10.0.0.1]/pb"]
)
def test_the_address_rule_is_what_refuses_internal_literals_in_development(api, settings, url):
    settings.DEBUG = True

    response = api.post("/api/v1/init-payment", {**BODY, "postbackUrl": url}, format="json")

    assert "private, loopback" in response.json()["errors"]["postbackUrl"][0]


def test_postback_url_on_a_public_address_is_accepted_in_development(api, settings):
    settings.DEBUG = True
    response = api.post(
        "/api/v1/init-payment", {**BODY, "postbackUrl": "https://93.184.216.34/pb"}, format="json"
    )
    assert response.status_code == 201


@pytest.mark.parametrize("url", ["https://93.184.216.34/pb", "https://localhost/pb"])
def test_ip_literals_and_localhost_are_refused_in_production(api, url):
    response = api.post("/api/v1/init-payment", {**BODY, "postbackUrl": url}, format="json")

    assert response.status_code == 400
    assert "DNS host name" in response.json()["errors"]["postbackUrl"][0]


def test_postback_url_whose_name_does_not_resolve_is_accepted_and_checked_at_delivery(api):
    response = api.post(
        "/api/v1/init-payment",
        {**BODY, "postbackUrl": "https://no-such-host.invalid/pb"},
        format="json",
    )
    assert response.status_code == 201


@override_settings(POSTBACK_ALLOW_PRIVATE=True, DEBUG=True)
def test_private_postback_urls_are_allowed_when_the_setting_is_on(api):
    response = api.post(
        "/api/v1/init-payment", {**BODY, "postbackUrl": "https://127.0.0.1/pb"}, format="json"
    )
    assert response.status_code == 201
