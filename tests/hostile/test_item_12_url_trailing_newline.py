"""Item 12: URL fields are matched whole; a trailing newline is not part of a URL."""

from __future__ import annotations

import pytest

from payments.models import Payment

pytestmark = pytest.mark.django_db

BODY = {
    "id": "o-1",
    "amount": "10",
    "currency": "USD",
    "successUrl": "https://shop.example/ok",
    "errorUrl": "https://shop.example/ko",
}


@pytest.mark.parametrize("field", ["successUrl", "errorUrl", "postbackUrl"])
@pytest.mark.parametrize("tail", ["\n", "\r\n", "\r", "\x00", " "])
@pytest.mark.parametrize("debug", [False, True])
def test_a_url_with_a_trailing_control_character_is_refused(api, settings, field, tail, debug):
    settings.DEBUG = debug

    response = api.post(
        "/api/v1/init-payment", {**BODY, field: f"https://shop.example/x{tail}"}, format="json"
    )

    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not Payment.objects.exists()


def test_test_postback_url_with_a_trailing_newline_is_refused(api):
    response = api.post(
        "/api/v1/postbacks/test", {"url": "https://shop.example/pb\n"}, format="json"
    )

    assert response.status_code == 400
    assert "url" in response.json()["errors"]
